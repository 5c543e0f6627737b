"""``fusion ask`` and ``fusion pools`` through Typer's runner, against the loopback fake server.

The runner is synchronous and runs its own event loop, so each invocation runs in a worker
thread while the fake server keeps serving on the test's loop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence

import pytest
import redis.asyncio as aioredis
from typer.testing import CliRunner, Result

from bots.cli import app
from bots.embedded_redis import EmbeddedRedis
from fusion_engine.budget.redis_store import RedisBudgetStore
from fusion_engine.config import load_config
from fusion_engine.result import FusionResult
from tests.bots.conftest import JUDGE, PANEL, WRITER, price_of_one_run
from tests.fakes.model_server import FakeModelServer, ModelBehavior


async def invoke(
    args: Sequence[str], env: Mapping[str, str], *, stdin: str | None = None
) -> Result:
    runner = CliRunner()
    return await asyncio.to_thread(
        runner.invoke, app, list(args), input=stdin, env=dict(env), catch_exceptions=False
    )


def one_error_line(result: Result) -> str:
    """The only stderr line: nothing ran, so there was no progress to show either."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return final_error_line(result)


def final_error_line(result: Result) -> str:
    """The error a failed run ends with: one ``Error:`` line, last, and no traceback."""
    lines = result.stderr.splitlines()
    assert [line for line in lines if line.startswith("Error: ")] == lines[-1:], result.stderr
    assert "Traceback" not in result.output
    return lines[-1]


async def test_ask_prints_progress_answer_analysis_and_footer(
    model_server: FakeModelServer, cli_env: dict[str, str]
) -> None:
    result = await invoke(["ask", "What", "is", "the", "answer?"], cli_env)
    assert result.exit_code == 0, result.output
    out = result.stdout
    for model in PANEL:
        assert f"{model}: answered in" in out
        assert f"{model} thinks the answer is 42." in out
    assert f"Judge {JUDGE}: analysis ready" in out
    assert f"Fused answer (writer {WRITER}):" in out
    assert "Scores (1-10)" in out
    assert "Models: 3 of 3 answered" in out
    assert "Cost: $" in out
    assert "DEGRADED" not in out
    assert "\x1b[" not in out
    assert result.stderr == ""
    assert any("What is the answer?" in json.dumps(r.body) for r in model_server.requests)


async def test_ask_json_prints_only_the_result(cli_env: dict[str, str]) -> None:
    result = await invoke(["ask", "--json", "What is the answer?"], cli_env)
    assert result.exit_code == 0, result.output
    parsed = FusionResult.model_validate_json(result.stdout)
    assert parsed.question == "What is the answer?"
    assert parsed.pool == "main"
    assert {a.model for a in parsed.answers} == set(PANEL)
    assert parsed.answer.strip()
    assert "answered in" in result.stderr  # progress went to stderr


async def test_ask_reads_the_question_from_stdin(
    model_server: FakeModelServer, cli_env: dict[str, str]
) -> None:
    result = await invoke(["ask", "--json", "-"], cli_env, stdin="Why is the sky blue?\n")
    assert result.exit_code == 0, result.output
    assert FusionResult.model_validate_json(result.stdout).question == "Why is the sky blue?"


async def test_pool_models_judge_and_writer_overrides_are_used(
    model_server: FakeModelServer, cli_env: dict[str, str]
) -> None:
    result = await invoke(
        ["ask", "--json", "--models", "m/x, m/y", "--writer", "m/w2", "Question?"], cli_env
    )
    assert result.exit_code == 0, result.output
    parsed = FusionResult.model_validate_json(result.stdout)
    assert {m.model for m in parsed.panel} == {"m/x", "m/y"}
    assert parsed.writer.model == "m/w2"
    asked = {r.model for r in model_server.requests}
    assert asked >= {"m/x", "m/y", "m/w2"}
    assert not asked & set(PANEL)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", ""], "question is empty"),
        (["ask", "   "], "question is empty"),
        (["ask", "x" * 200_000], "200,000 characters"),
        (["ask", "--pool", "nope", "q?"], "Unknown pool 'nope'"),
        (["ask", "--models", "m/only", "q?"], "between 2 and 8"),
        (["ask", "--models", "m/a b,m/c", "q?"], "is not a model slug"),
        (["ask", "--models", ",".join(f"m/{i}" for i in range(9)), "q?"], "between 2 and 8"),
        (["ask", "--pool", "main", "--models", "m/a,m/b", "q?"], "--pool or --models"),
        (["ask", "--frobnicate", "q?"], "No such option"),
        (["ask"], "Missing argument"),
    ],
    ids=[
        "empty",
        "blank",
        "too-long",
        "unknown-pool",
        "one-model",
        "bad-slug",
        "nine-models",
        "pool-and-models",
        "unknown-flag",
        "no-question",
    ],
)
async def test_bad_input_is_refused_before_any_model_is_called(
    model_server: FakeModelServer, cli_env: dict[str, str], args: list[str], message: str
) -> None:
    result = await invoke(args, cli_env)
    assert result.exit_code == 2, result.output
    assert message in one_error_line(result)
    assert result.stdout == ""
    assert model_server.requests == []


@pytest.mark.parametrize("args", [["ask", ""], ["ask", "-"]], ids=["empty", "empty-stdin"])
async def test_an_empty_question_is_explained_in_cli_terms_not_chat_ones(
    model_server: FakeModelServer, cli_env: dict[str, str], args: list[str]
) -> None:
    error = one_error_line(await invoke(args, cli_env, stdin=""))
    assert 'fusion ask "Why is the sky blue?"' in error
    assert "/fuse" not in error


async def test_empty_stdin_is_refused(
    model_server: FakeModelServer, cli_env: dict[str, str]
) -> None:
    result = await invoke(["ask", "-"], cli_env, stdin="\n")
    assert result.exit_code == 2
    assert "question is empty" in one_error_line(result)
    assert model_server.requests == []


async def test_missing_key_says_how_to_set_it(
    model_server: FakeModelServer, cli_env: dict[str, str]
) -> None:
    result = await invoke(["ask", "q?"], cli_env | {"OPENROUTER_API_KEY": ""})
    assert result.exit_code == 1
    line = one_error_line(result)
    assert "OPENROUTER_API_KEY is not set" in line
    assert "export OPENROUTER_API_KEY" in line
    assert model_server.requests == []


async def test_broken_pool_file_is_one_line(
    model_server: FakeModelServer, cli_env: dict[str, str], tmp_path: object
) -> None:
    result = await invoke(["ask", "q?"], cli_env | {"FUSION_CONFIG": "/nonexistent/pools.toml"})
    assert result.exit_code == 1
    assert "Cannot read the pool file" in one_error_line(result)


async def test_degraded_result_shows_the_missing_model_and_why(
    model_server: FakeModelServer, cli_env: dict[str, str]
) -> None:
    model_server.set("m/gamma", ModelBehavior(fault="500"))
    result = await invoke(["ask", "What is the answer?"], cli_env)
    assert result.exit_code == 0, result.output
    assert "DEGRADED" in result.stdout
    assert "m/gamma: failed:" in result.stdout
    assert "Missing: m/gamma" in result.stdout
    assert "Models: 2 of 3 answered" in result.stdout


async def test_quorum_failure_exits_1_with_one_line(
    model_server: FakeModelServer, cli_env: dict[str, str]
) -> None:
    for model in PANEL[1:]:
        model_server.set(model, ModelBehavior(fault="500"))
    result = await invoke(["ask", "--json", "What is the answer?"], cli_env)
    assert result.exit_code == 1
    assert "only 1 of the panel answered, 2 needed" in final_error_line(result)
    assert "m/beta: failed: HTTP 500" in result.stderr  # progress went to stderr as it ran
    assert result.stdout == ""


async def test_pools_lists_pools_with_quotes(cli_env: dict[str, str]) -> None:
    result = await invoke(["pools"], cli_env)
    assert result.exit_code == 0, result.output
    assert "main (default)" in result.stdout
    assert "other" in result.stdout
    assert "up to $" in result.stdout

    result = await invoke(["pools", "--json"], cli_env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["default_pool"] == "main"
    by_name = {p["name"]: p for p in data["pools"]}
    assert by_name["main"]["default"] is True
    assert by_name["main"]["models"] == list(PANEL)
    assert by_name["main"]["typical_quote"]["micros"] > 0


async def test_pools_without_a_key_still_lists_them(cli_env: dict[str, str]) -> None:
    result = await invoke(["pools", "--json"], cli_env | {"OPENROUTER_API_KEY": ""})
    assert result.exit_code == 0, result.output
    assert all(p["typical_quote"] is None for p in json.loads(result.stdout)["pools"])
    assert "costs unknown" in result.stderr


async def test_tenant_is_charged_what_the_fusion_cost(
    model_server: FakeModelServer,
    cli_env: dict[str, str],
    redis_server: EmbeddedRedis,
    redis_client: aioredis.Redis,
) -> None:
    env = cli_env | {"REDIS_URL": redis_server.url}
    result = await invoke(["ask", "--json", "--tenant", "team-a", "Question?"], env)
    assert result.exit_code == 0, result.output
    cost = FusionResult.model_validate_json(result.stdout).cost_micros
    assert cost == await price_of_one_run(cli_env, "Question?")
    store = RedisBudgetStore.from_defaults(redis_client, load_config(None).budgets)
    status = await store.status("team-a")
    assert (status.daily_spent_micros, status.held_micros) == (cost, 0)

    result = await invoke(["ask", "--tenant", "team-a", "Question?"], env)
    assert result.exit_code == 0, result.output
    assert "Budget: charged $" in result.stdout
    assert "to team-a;" in result.stdout


async def test_tenant_over_budget_is_refused_before_any_call(
    model_server: FakeModelServer,
    cli_env: dict[str, str],
    redis_server: EmbeddedRedis,
    redis_client: aioredis.Redis,
) -> None:
    store = RedisBudgetStore.from_defaults(redis_client, load_config(None).budgets)
    await store.set_limits("team-b", daily_micros=1, monthly_micros=1_000_000)
    env = cli_env | {"REDIS_URL": redis_server.url}
    result = await invoke(["ask", "--tenant", "team-b", "Question?"], env)
    assert result.exit_code == 1
    assert "daily budget has $0.000001 left" in one_error_line(result)
    assert model_server.requests == []
