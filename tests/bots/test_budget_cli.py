"""``fusion budget`` against a real Redis, and against the embedded server (data persists)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import redis
from typer.testing import CliRunner

from bots.cli import app
from bots.embedded_redis import EmbeddedRedis
from bots.redis_runtime import embedded_redis
from fusion_engine.budget.redis_store import RedisBudgetStore
from fusion_engine.redis_guard import connect_redis


@pytest.fixture
def env(redis_server: EmbeddedRedis, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    redis.Redis.from_url(redis_server.url).flushdb()
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    monkeypatch.setenv("FUSION_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("FUSION_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def fusion(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


@pytest.mark.usefixtures("env")
def test_show_a_new_tenant_has_the_config_defaults() -> None:
    code, out = fusion("budget", "show", "E1|T1")
    assert code == 0, out
    assert "Today:    $0.00 of $5.00" in out
    assert "Month:    $0.00 of $50.00" in out
    code, out = fusion("budget", "show", "E1|T1", "--json")
    data = json.loads(out)
    assert data["daily_limit_usd"] == 5.0
    assert data["remaining_usd"] == 5.0


@pytest.mark.usefixtures("env")
def test_show_an_unknown_tenant_says_so_and_still_shows_the_defaults() -> None:
    """A mistyped tenant used to look exactly like a real one with the default limits."""
    code, out = fusion("budget", "show", "acme-typo")
    assert code == 0, out
    assert "Today:    $0.00 of $5.00" in out
    assert out.splitlines()[-1] == (
        "Note:     no record of 'acme-typo' yet (never charged, no limits set): these are the "
        "defaults it would get. Check the name with `fusion budget list`."
    )
    assert json.loads(fusion("budget", "show", "acme-typo", "--json")[1])["known"] is False
    assert fusion("budget", "set", "acme-typo", "--daily", "6")[0] == 0
    code, out = fusion("budget", "show", "acme-typo")
    assert "Note:" not in out
    assert json.loads(fusion("budget", "show", "acme-typo", "--json")[1])["known"] is True


@pytest.mark.usefixtures("env")
def test_what_is_left_adds_up_with_the_spend_never_rounded_up(redis_server: EmbeddedRedis) -> None:
    """$0.0024 spent of $2.00 used to leave "$2.00"."""
    assert fusion("budget", "set", "acme", "--daily", "2", "--monthly", "20")[0] == 0

    async def charge() -> None:
        client = connect_redis(redis_server.url)
        store = RedisBudgetStore(client, default_daily_micros=1, default_monthly_micros=1)
        await store.reserve("acme", "job", 2_400, lease_s=60)
        await store.settle("acme", "job", 2_400)
        await client.aclose()

    asyncio.run(charge())
    code, out = fusion("budget", "show", "acme")
    assert code == 0, out
    assert "Today:    $0.0024 of $2.00" in out
    assert "Left:     $1.9976" in out


@pytest.mark.usefixtures("env")
def test_a_daily_limit_above_the_monthly_one_is_set_with_a_warning() -> None:
    """Both windows are enforced, so it is safe; but `--daily 100 --monthly 1` is a slip."""
    code, out = fusion("budget", "set", "acme", "--daily", "100", "--monthly", "1")
    assert code == 0, out
    assert "of $100.00" in out
    assert out.splitlines()[-1] == (
        "Warning:  The daily limit ($100.00) is above the monthly limit ($1.00), so at most "
        "$1.00 can be spent in a day or a month."
    )
    data = json.loads(fusion("budget", "show", "acme", "--json")[1])
    assert data["warning"].startswith("The daily limit ($100.00) is above")
    code, out = fusion("budget", "set", "acme", "--daily", "1")
    assert "Warning" not in out
    assert json.loads(fusion("budget", "show", "acme", "--json")[1])["warning"] is None


@pytest.mark.usefixtures("env")
def test_set_changes_limits_and_keeps_the_other() -> None:
    code, out = fusion("budget", "set", "acme", "--daily", "2.5", "--monthly", "20")
    assert code == 0, out
    assert "of $2.50" in out
    assert "of $20.00" in out
    code, out = fusion("budget", "set", "acme", "--daily", "3")
    assert code == 0, out
    assert "of $3.00" in out
    assert "of $20.00" in out


@pytest.mark.usefixtures("env")
def test_set_rejects_bad_amounts_with_a_fix() -> None:
    code, out = fusion("budget", "set", "acme", "--daily", "-1")
    assert code == 2
    assert "--daily 2.50" in out
    code, out = fusion("budget", "set", "acme")
    assert code == 2
    assert "--daily" in out


@pytest.mark.usefixtures("env")
@pytest.mark.parametrize("option", ["--daily", "--monthly"])
def test_set_refuses_a_limit_past_the_maximum(option: str) -> None:
    """A limit of 1e13 USD used to be stored and then shown negative (int64 overflow)."""
    code, out = fusion("budget", "set", "acme", option, "1e13")
    assert code == 2
    assert out == (
        f"Error: `{option}` takes an amount in USD from 0 to $1,000,000.00, "
        f"e.g. `{option} 2.50` (got 10000000000000.0).\n"
    )
    code, out = fusion("budget", "set", "acme", option, "1000000")
    assert code == 0, out
    assert "of $1,000,000.00" in out
    code, out = fusion("budget", "set", "acme", option, "1000000.01")
    assert code == 2


@pytest.mark.usefixtures("env")
async def test_list_and_reset_show_spend(redis_server: EmbeddedRedis) -> None:
    client = connect_redis(redis_server.url)
    store = RedisBudgetStore(client, default_daily_micros=5_000_000, default_monthly_micros=9)
    await store.reserve("beta", "job", 1, lease_s=60)
    await store.settle("beta", "job", 1_230_000)
    await client.aclose()
    code, out = await _in_thread("budget", "set", "alpha", "--daily", "1", "--monthly", "10")
    assert code == 0, out
    code, out = await _in_thread("budget", "list")
    lines = out.splitlines()
    assert lines[0].split() == ["TENANT", "TODAY", "MONTH", "HELD"]
    assert lines[1].startswith("alpha")
    assert lines[2].startswith("beta")
    assert "$1.23/$5.00" in lines[2]
    code, out = await _in_thread("budget", "reset", "beta")
    assert code == 0, out
    assert "Today:    $0.00 of $5.00" in out
    code, out = await _in_thread("budget", "list", "--json")
    assert [t["daily_spent_usd"] for t in json.loads(out)] == [0.0, 0.0]


async def _in_thread(*args: str) -> tuple[int, str]:
    """The command runs its own event loop, so run it off this test's loop."""
    return await asyncio.to_thread(fusion, *args)


def test_unreachable_redis_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.chdir(tmp_path)
    code, out = fusion("budget", "show", "acme")
    assert code == 1
    assert out == (
        "Error: Cannot reach Redis at redis://127.0.0.1:1/0. Start it, or fix REDIS_URL "
        "(unset it to use the embedded server).\n"
    )


def test_without_redis_url_budgets_persist_in_the_embedded_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("FUSION_CONFIG", raising=False)
    monkeypatch.setenv("FUSION_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    code, out = fusion("budget", "set", "solo", "--daily", "7")
    assert code == 0, out
    assert not (tmp_path / "data" / "redis" / "server.port").exists()  # stopped on exit
    code, out = fusion("budget", "show", "solo")  # a fresh server, from the files
    assert code == 0, out
    assert "of $7.00" in out


def test_processes_on_one_data_dir_share_one_embedded_server(tmp_path: Path) -> None:
    """A second process (here: a nested user) connects to the running server, not a new one."""
    data = tmp_path / "redis"
    with embedded_redis(data) as first_url:
        with embedded_redis(data) as second_url:
            assert second_url == first_url
        # The sharer leaving does not stop the owner's server.
        assert redis.Redis.from_url(first_url).ping()
    assert not (data / "server.port").exists()
