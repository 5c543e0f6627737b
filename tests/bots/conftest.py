"""Fixtures for CLI tests: the loopback fake model server and a pool file naming its models."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bots.settings import Settings
from bots.wiring import Runtime
from fusion_engine.request import FusionRequest
from tests.fakes.judge import analysis_json_for, is_judge_request
from tests.fakes.model_server import FakeModelServer, ModelBehavior

PANEL = ("m/alpha", "m/beta", "m/gamma")
JUDGE = "m/judge"
WRITER = "m/writer"

POOL_FILE = f"""
default_pool = "main"

[pools.main]
description = "Three fake models on loopback."
models = {json.dumps(list(PANEL))}
judge = "{JUDGE}"
writer = "{WRITER}"
quorum = 2
grace_s = 5
call_timeout_s = 10
max_retries = 0

[pools.other]
models = ["m/alpha", "m/beta"]
judge = "{JUDGE}"
writer = "{WRITER}"
"""


def _text_for(body: dict[str, Any]) -> str:
    """Panel members and the writer answer in prose; the judge answers with valid JSON."""
    if is_judge_request(body):
        prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
        return analysis_json_for(prompt)
    return f"{body['model']} thinks the answer is 42."


@pytest.fixture
async def model_server() -> AsyncIterator[FakeModelServer]:
    behaviors = {m: ModelBehavior(text=_text_for) for m in (*PANEL, JUDGE, WRITER)}
    async with FakeModelServer(behaviors, default=ModelBehavior(text=_text_for)) as server:
        yield server


@pytest.fixture
def pool_file(tmp_path: Path) -> Path:
    path = tmp_path / "pools.toml"
    path.write_text(POOL_FILE)
    return path


@pytest.fixture
def cli_env(model_server: FakeModelServer, pool_file: Path) -> dict[str, str]:
    """Environment for a ``fusion`` process talking only to the loopback fake server."""
    return {
        "OPENROUTER_BASE_URL": model_server.base_url,
        "OPENROUTER_API_KEY": "test-key",
        "FUSION_CONFIG": str(pool_file),
    }


async def price_of_one_run(cli_env: dict[str, str], question: str) -> int:
    """What one fusion of ``question`` in the default pool costs on the fake server, run here
    in-process: the exact amount a process that answers it once must charge."""
    settings = Settings(
        _env_file=None,
        openrouter_base_url=cli_env["OPENROUTER_BASE_URL"],
        openrouter_api_key=cli_env["OPENROUTER_API_KEY"],
        fusion_config=Path(cli_env["FUSION_CONFIG"]),
    )
    async with Runtime.open(settings) as rt:
        result = await rt.engine.fuse(FusionRequest.create(question, rt.config.pool()))
    return result.cost_micros
