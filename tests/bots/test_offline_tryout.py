"""The README's offline try-out: the built-in pools against the fake model server as it runs
by hand (``python -m tests.fakes.model_server``: list prices and role-aware answers).

It used to price every model as unknown (``fusion pools`` quoted "up to $1.28", a $1 budget
refused a question costing a fraction of a cent) and to answer eval judges with prose (every
verdict invalid, no win rate).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from typer.testing import CliRunner, Result

from bots.cli import app
from bots.commands.pools import TYPICAL_QUESTION
from bots.embedded_redis import EmbeddedRedis
from fusion_engine.budget.redis_store import RedisBudgetStore
from fusion_engine.config import load_config
from fusion_engine.llm.base import ModelPrice
from fusion_engine.llm.function import FunctionModelClient
from fusion_engine.llm.pricing import StaticPrices
from fusion_engine.money import usd_to_micros
from fusion_engine.pipeline.quote import quote_request
from fusion_engine.request import FusionRequest
from fusion_eval.judging import PairJudge
from fusion_eval.verdict import parse_verdict
from tests.fakes.model_server import FakeModelServer, ModelBehavior
from tests.fakes.offline import PRICES, answer, priced_models


@pytest.fixture
async def offline_server() -> AsyncIterator[FakeModelServer]:
    """What ``_serve_forever`` serves, without its latency and streaming pace."""
    default = ModelBehavior(text=answer)
    async with FakeModelServer(priced_models(default), default=default) as server:
        yield server


@pytest.fixture
def env(
    offline_server: FakeModelServer,
    redis_server: EmbeddedRedis,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """The README's environment: the built-in pools, the fake's URL and key."""
    monkeypatch.delenv("FUSION_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    return {
        "OPENROUTER_API_KEY": "test-key",
        "OPENROUTER_BASE_URL": offline_server.base_url,
        "REDIS_URL": redis_server.url,
        "FUSION_DATA_DIR": str(tmp_path / "data"),
    }


async def invoke(args: Sequence[str], env: Mapping[str, str]) -> Result:
    runner = CliRunner()
    return await asyncio.to_thread(
        runner.invoke, app, list(args), env=dict(env), catch_exceptions=False
    )


def _built_in_models() -> set[str]:
    models: set[str] = set()
    for pool in load_config().pools.values():
        models |= {*pool.models, pool.judge, pool.writer}
        models |= {m for m in (pool.judge_fallback, pool.writer_fallback) if m}
        models |= {m for fallbacks in pool.fallbacks.values() for m in fallbacks}
    return models


def test_every_model_of_the_built_in_pools_has_a_list_price() -> None:
    assert _built_in_models() - set(PRICES) == set()


def test_the_hand_run_server_publishes_the_prices() -> None:
    """The README's command itself, on a free port."""
    command = [sys.executable, "-m", "tests.fakes.model_server", "--port", "0", "--latency", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as server:  # noqa: S603 - our own fake
        try:
            assert server.stdout is not None
            first_line = server.stdout.readline()
            base_url = first_line.split(" at ", 1)[1].split(" ", 1)[0]
            listed = httpx.get(
                f"{base_url}/models", headers={"Authorization": "Bearer test-key"}
            ).json()["data"]
        finally:
            server.terminate()
    prices = {m["id"]: (m["pricing"]["prompt"], m["pricing"]["completion"]) for m in listed}
    assert prices["anthropic/claude-sonnet-4.6"] == ("0.000003", "0.000015")
    assert set(prices) == set(PRICES)


async def test_pools_quotes_from_the_published_prices(env: dict[str, str]) -> None:
    result = await invoke(["pools", "--json"], env)
    assert result.exit_code == 0, result.output
    quotes = {p["name"]: p["typical_quote"] for p in json.loads(result.stdout)["pools"]}
    table = StaticPrices(
        {
            slug: ModelPrice(
                prompt_per_mtok=usd_to_micros(prompt), completion_per_mtok=usd_to_micros(out)
            )
            for slug, (prompt, out) in PRICES.items()
        }
    )
    config = load_config()
    for name, quote in quotes.items():
        expected = await quote_request(
            FusionRequest.create(TYPICAL_QUESTION, config.pool(name)), table
        )
        assert quote["unpriced"] == []
        assert quote["micros"] == expected.micros


async def test_a_one_dollar_budget_answers_and_is_charged_what_the_answer_cost(
    env: dict[str, str], redis_client: aioredis.Redis
) -> None:
    store = RedisBudgetStore.from_defaults(redis_client, load_config().budgets)
    await store.set_limits("trial", daily_micros=1_000_000, monthly_micros=1_000_000)
    result = await invoke(["ask", "--json", "--tenant", "trial", "Why is the sky blue?"], env)
    assert result.exit_code == 0, result.output
    cost = json.loads(result.stdout)["usage"]["cost_micros"]
    status = await store.status("trial")
    assert status.daily_spent_micros == cost
    assert status.remaining_micros == 1_000_000 - cost


OFFLINE_OUT = "--out fusion-eval/offline"


def _readme_eval_command() -> list[str]:
    """The arguments of the README's offline ``fusion eval`` line (ending in its ``--out``)."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    (line,) = [ln for ln in readme.splitlines() if "fusion eval" in ln and OFFLINE_OUT in ln]
    args = line.split("uv run fusion ", 1)[1].split()
    assert args[-2] == "--out"
    return args


async def test_eval_runs_offline_with_valid_verdicts(
    env: dict[str, str], offline_server: FakeModelServer, tmp_path: Path
) -> None:
    """The README's offline eval command, against the fake as it runs by hand."""
    out = tmp_path / "eval"
    result = await invoke([*_readme_eval_command()[:-1], str(out)], env)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    panel = len(load_config().pool("budget").models)
    judges = len(report["judges"])
    assert judges == 2
    pairwise = report["tests"]["pairwise"]["overall"]
    self_preference = report["tests"]["self_preference"]["overall"]
    assert pairwise["invalid"] == self_preference["invalid"] == 0
    valid = pairwise["wins"] + pairwise["ties"] + pairwise["losses"]
    assert valid == 3 * panel * judges
    assert pairwise["win_rate"] is not None
    assert self_preference["win_rate"] is not None
    assert report["unpriced"] == []
    assert (out / "win_rates.png").read_bytes()[:4] == b"\x89PNG"
    assert "## Pairwise test" in (out / "report.md").read_text()


def test_the_fake_eval_judge_gives_the_same_valid_verdict_in_both_orders() -> None:
    """Recognised by the marker in the real judge request; the longer answer wins."""
    judge = PairJudge(FunctionModelClient(lambda _: ""), StaticPrices({}))
    longer, shorter = "A long and careful answer.", "Short."
    first = judge.request("j/one", "Why?", longer, shorter)
    second = judge.request("j/one", "Why?", shorter, longer)
    bodies = [{"messages": [m.model_dump() for m in r.messages]} for r in (first, second)]
    assert [parse_verdict(answer(b)).winner for b in bodies] == ["1", "2"]
    tie = judge.request("j/one", "Why?", shorter, shorter)
    assert parse_verdict(answer({"messages": [m.model_dump() for m in tie.messages]})).winner == (
        "tie"
    )
