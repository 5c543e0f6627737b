"""Judge calls through the real OpenAI-compatible client and ``/models`` pricing, against the
loopback fake server (fusions come from the in-process fake, so the engine is not needed)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fusion_engine.http import new_http_client
from fusion_engine.llm.openai_compat import OpenAICompatClient
from fusion_engine.llm.pricing import ModelsPriceSource
from fusion_eval import EvalPlan, EvalQuestion, run_eval
from tests.fakes.model_server import FakeModelServer, ModelBehavior

from .helpers import POOL, FakeFuser

KEY = "test-key"


def _fused_wins(body: dict[str, Any], *, fenced: bool = False) -> str:
    prompt = body["messages"][-1]["content"]
    first = prompt.split("## Answer 1", 1)[1].split("## Answer 2", 1)[0]
    verdict = json.dumps({"reason": "r", "winner": "1" if "FUSED" in first else "2"})
    return f"```json\n{verdict}\n```" if fenced else verdict


@pytest.fixture
async def server() -> AsyncIterator[FakeModelServer]:
    behaviors = {
        # Rejects structured output; answers in a code fence once asked without it.
        "j/plain": ModelBehavior(
            text=lambda b: _fused_wins(b, fenced=True), supports_json_schema=False
        ),
        # Reports no cost: the call is priced from /models.
        "j/unreported": ModelBehavior(text=_fused_wins, report_cost=False),
        "p/alpha": ModelBehavior(text=_fused_wins),
        "p/beta": ModelBehavior(text=lambda b: "no comment"),
    }
    async with FakeModelServer(behaviors, default=None, api_key=KEY) as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with new_http_client(connect_timeout_s=5.0) as client:
        yield client


async def test_judges_over_the_wire(
    server: FakeModelServer, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    client = OpenAICompatClient(http, base_url=server.base_url, api_key=KEY)
    prices = ModelsPriceSource(http, base_url=server.base_url, api_key=KEY)
    run = await run_eval(
        EvalPlan(pool=POOL, judges=("j/plain", "j/unreported")),
        [EvalQuestion(id="q", question="Why is the sky blue?")],
        fuser=FakeFuser(),
        client=client,
        prices=prices,
        out_dir=tmp_path,
    )
    (record,) = run.records
    outcomes = {(c.test, c.judge, c.model): c.outcome for c in record.comparisons}
    assert outcomes == {
        ("self_preference", "p/alpha", "p/alpha"): "win",
        ("self_preference", "p/beta", "p/beta"): "invalid",
        ("pairwise", "j/plain", "p/alpha"): "win",
        ("pairwise", "j/plain", "p/beta"): "win",
        ("pairwise", "j/unreported", "p/alpha"): "win",
        ("pairwise", "j/unreported", "p/beta"): "win",
    }
    plain = [r for r in server.requests if r.model == "j/plain"]
    assert sum("response_format" in r.body for r in plain) == 4  # rejected, then retried
    assert sum("response_format" not in r.body for r in plain) == 4
    assert all(r.body["temperature"] == 0.0 for r in server.requests)
    unreported = [c for c in record.comparisons if c.judge == "j/unreported"]
    assert all(o.cost_micros > 0 for c in unreported for o in c.orders)
    assert run.unpriced == ()
