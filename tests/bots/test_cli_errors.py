"""Garbage settings and dead dependencies, through the real CLI: every command ends with exactly
one ``Error:`` line that names what to fix, the README's exit code (1: configuration or a
dependency at run time), and never a traceback.

Settings and pool-file cases run in-process through Typer's runner with ``catch_exceptions``
off (an uncaught exception fails the test); Discord cases start a real ``fusion`` process, since
they open Redis, the model runtime and discord.py's own HTTP session first.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bots.cli import app
from bots.embedded_redis import EmbeddedRedis
from tests.bots.conftest import POOL_FILE
from tests.fakes.discord_api import FakeDiscord
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
FUSION = [sys.executable, "-c", "from bots.cli import main; main()"]

COMMANDS = {
    "budget": ["budget", "show", "acme"],
    "ask --tenant": ["ask", "--tenant", "acme", "What is 6 x 7?"],
    "worker": ["worker"],
    "slack": ["slack"],
    "discord": ["discord"],
    "pools": ["pools"],
}


def run(args: Sequence[str], env: dict[str, str]) -> Result:
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


def the_error(output: str) -> str:
    """The single ``Error:`` line of ``output``, which holds no traceback."""
    errors = [line for line in output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, output
    assert "Traceback" not in output
    return errors[0]


# ``fusion worker`` configures logging for its process onto the runner's stderr.
pytestmark = pytest.mark.usefixtures("restore_logging")


@pytest.fixture
def base_env(tmp_path: Path, pool_file: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in list(os.environ):
        if name.startswith(("SLACK_", "DISCORD_", "REDIS_", "FUSION_")):
            monkeypatch.delenv(name)
    return {
        "OPENROUTER_API_KEY": "test-key",
        "OPENROUTER_BASE_URL": "http://127.0.0.1:9/v1",
        "FUSION_CONFIG": str(pool_file),
        "FUSION_DATA_DIR": str(tmp_path / "data"),
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": "signing",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",  # never the real Slack
        "DISCORD_TOKEN": "discord-test",
    }


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("url", ["notaurl", "http://localhost:6379", "redis://h:port/0"])
def test_a_redis_url_that_is_not_one_says_how_to_write_it(
    base_env: dict[str, str], command: str, url: str
) -> None:
    result = run(COMMANDS[command], base_env | {"REDIS_URL": url})
    assert result.exit_code == 1, result.output
    line = the_error(result.output)
    assert "REDIS_URL is not a Redis URL" in line
    assert "redis://[:PASSWORD@]HOST:6379/0" in line
    assert "unset REDIS_URL" in line


@pytest.mark.parametrize("command", ["worker", "slack", "discord", "budget"])
def test_an_unknown_log_level_names_the_levels(base_env: dict[str, str], command: str) -> None:
    result = run(COMMANDS[command], base_env | {"FUSION_LOG_LEVEL": "bogus"})
    assert result.exit_code == 1, result.output
    line = the_error(result.output)
    assert "FUSION_LOG_LEVEL 'bogus' is not a log level" in line
    assert "DEBUG, INFO, WARNING, ERROR, CRITICAL" in line


def test_a_log_level_is_read_in_any_case(base_env: dict[str, str]) -> None:
    from bots.cli_support import load_settings

    os.environ["FUSION_LOG_LEVEL"] = " warning"
    try:
        assert load_settings().log_level == "WARNING"
    finally:
        del os.environ["FUSION_LOG_LEVEL"]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_pool_file_that_is_not_utf8_says_so(
    base_env: dict[str, str], tmp_path: Path, command: str
) -> None:
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(POOL_FILE.replace("Three fake", "Tr\xe8s fake").encode("latin-1"))
    result = run(COMMANDS[command], base_env | {"FUSION_CONFIG": str(bad)})
    assert result.exit_code == 1, result.output
    line = the_error(result.output)
    assert f"The pool file {bad} is not UTF-8" in line
    assert "Save it as UTF-8" in line


@pytest.mark.parametrize("rate", ["lots", "0/minute", "10/minute;5/second"])
def test_a_bad_user_rate_limit_names_the_key_and_an_example(
    base_env: dict[str, str], tmp_path: Path, rate: str
) -> None:
    path = tmp_path / "rate.toml"
    path.write_text(POOL_FILE + f'\n[budgets]\nuser_rate_limit = "{rate}"\n')
    result = run(COMMANDS["budget"], base_env | {"FUSION_CONFIG": str(path)})
    assert result.exit_code == 1, result.output
    line = the_error(result.output)
    assert "budgets.user_rate_limit" in line
    assert repr(rate) in line
    assert "'10/minute'" in line


@pytest.mark.parametrize(
    "args", [["budget", "show", "acme"], ["budget", "list"], COMMANDS["ask --tenant"]]
)
def test_an_unreachable_redis_is_named_with_its_password_masked(
    base_env: dict[str, str], args: list[str]
) -> None:
    port = free_port()
    url = f"redis://:hunter2@127.0.0.1:{port}/0"
    result = run(args, base_env | {"REDIS_URL": url})
    assert result.exit_code == 1, result.output
    line = the_error(result.output)
    assert f"Cannot reach Redis at redis://:***@127.0.0.1:{port}/0." in line
    assert "Start it, or fix REDIS_URL" in line
    assert "nothing was charged" not in line
    assert "hunter2" not in result.output


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        yield fake


def _fusion(args: Sequence[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own console script
        [*FUSION, *args],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_"))} | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("command", ["discord", "worker"])
async def test_a_refused_discord_token_says_how_to_reset_it(
    base_env: dict[str, str], redis_server: EmbeddedRedis, fake_discord: FakeDiscord, command: str
) -> None:
    fake_discord.fail("GET", "/users/@me", status=401, code=0, message="401: Unauthorized")
    env = base_env | {
        "REDIS_URL": redis_server.url,
        "SLACK_BOT_TOKEN": "",
        "DISCORD_API_URL": fake_discord.api_url,
        "DISCORD_GATEWAY_URL": fake_discord.gateway_url,
    }
    proc = await asyncio.to_thread(_fusion, [command], env)
    assert proc.returncode == 1, proc.stderr
    line = the_error(proc.stderr)
    assert "Discord refused DISCORD_TOKEN (401 Unauthorized)" in line
    assert "Reset Token" in line
    assert "discord-test" not in proc.stderr


@pytest.mark.parametrize("command", ["discord", "worker"])
async def test_an_unreachable_discord_is_named(
    base_env: dict[str, str], redis_server: EmbeddedRedis, command: str
) -> None:
    port = free_port()
    api = f"http://127.0.0.1:{port}/api/v10"
    env = base_env | {
        "REDIS_URL": redis_server.url,
        "SLACK_BOT_TOKEN": "",
        "DISCORD_API_URL": api,
        "DISCORD_GATEWAY_URL": f"ws://127.0.0.1:{port}/",
    }
    proc = await asyncio.to_thread(_fusion, [command], env)
    assert proc.returncode == 1, proc.stderr
    line = the_error(proc.stderr)
    assert f"Cannot reach Discord at {api}" in line
    assert "DISCORD_API_URL" in line


async def test_an_unreachable_gateway_is_named(
    base_env: dict[str, str], redis_server: EmbeddedRedis, fake_discord: FakeDiscord
) -> None:
    """Discord's REST API answers (the login works) but its gateway cannot be reached: one line
    naming the gateway, not discord.py's crash in its reconnect path."""
    gateway = f"ws://127.0.0.1:{free_port()}/"
    env = base_env | {
        "REDIS_URL": redis_server.url,
        "SLACK_BOT_TOKEN": "",
        "DISCORD_API_URL": fake_discord.api_url,
        "DISCORD_GATEWAY_URL": gateway,
    }
    proc = await asyncio.to_thread(_fusion, ["discord", "--no-sync"], env)
    assert proc.returncode == 1, proc.stderr
    line = the_error(proc.stderr)
    assert f"Cannot reach Discord's gateway at {gateway}" in line
    assert "DISCORD_GATEWAY_URL" in line
    assert "Traceback" not in proc.stderr
