"""``fusion slack`` as a process would run it: the real wiring, end to end, offline.

``serve`` is started with Socket Mode against the fake Slack, a real Redis (budgets in Lua,
the saq queue, the worker's ledger), the real engine talking to the fake model server, and the
worker in-process. A slash command pushed over the socket comes back as an ack with the quote,
then as a fused answer in the channel with one thread reply per model, charged once.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from bots.cli import app
from bots.commands.slack import check_bot_token, listening_line, serve
from bots.embedded_redis import EmbeddedRedis
from bots.settings import Settings
from bots.wiring import GC_THRESHOLDS
from fusion_engine.budget.redis_store import RedisBudgetStore
from fusion_engine.config import BudgetDefaults
from fusion_engine.errors import UnavailableError
from fusion_engine.money import format_usd
from fusion_engine.redis_guard import connect_redis
from tests.bots.conftest import PANEL, model_server, pool_file  # noqa: F401
from tests.fakes.model_server import FakeModelServer
from tests.fakes.slack_api import BOT_TOKEN, TEAM_ID, FakeSlack
from tests.ports import free_port


def _settings(
    fake_slack: FakeSlack,
    models: FakeModelServer,
    pools: Path,
    tmp_path: Path,
    **extra: object,
) -> Settings:
    return Settings.model_validate(
        {
            "openrouter_api_key": SecretStr("test-key"),
            "openrouter_base_url": models.base_url,
            "fusion_config": pools,
            "FUSION_DATA_DIR": tmp_path,
            "slack_bot_token": SecretStr(BOT_TOKEN),
            "slack_app_token": None,
            "slack_signing_secret": SecretStr("signing"),
            "slack_client_id": None,
            "slack_api_url": fake_slack.api_url,
            **extra,
        }
    )


async def test_fusion_slack_end_to_end_over_socket_mode(
    fake_slack: FakeSlack,
    redis_server: EmbeddedRedis,
    redis_client: object,
    model_server: FakeModelServer,  # noqa: F811
    pool_file: Path,  # noqa: F811
    tmp_path: Path,
    slack_lines: _Lines,
) -> None:
    """``redis_client`` is asked for so the database starts empty."""
    settings = _settings(
        fake_slack,
        model_server,
        pool_file,
        tmp_path,
        redis_url=redis_server.url,
        slack_app_token=SecretStr("xapp-test"),
        slack_signing_secret=None,
    )
    task = asyncio.create_task(serve(settings, run_worker=True, host="127.0.0.1"))
    try:
        await fake_slack.push(
            {
                "envelope_id": "env-e2e",
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": {
                    "command": "/fuse",
                    "text": "what is the answer to everything?",
                    "user_id": "U1",
                    "channel_id": "C1",
                    "team_id": TEAM_ID,
                    "trigger_id": "tr-e2e",
                    "response_url": fake_slack.response_url(),
                },
            }
        )
        ack = await fake_slack.ack_for("env-e2e")
        assert f"Fusing with {len(PANEL)} models" in ack["payload"]["text"]
        await fake_slack.wait_for(lambda f: len(f.of("chat.postMessage")) >= 1 + len(PANEL))
        await fake_slack.wait_for(
            lambda f: any("Fused answer for" in c.args["text"] for c in f.of("chat.update"))
        )
        assert gc.get_threshold() == GC_THRESHOLDS  # a serving process tunes its GC
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    final = next(c for c in fake_slack.of("chat.update") if "Fused answer" in c.args["text"])
    blocks = json.dumps(final.args["blocks"])
    assert "thinks the answer is 42" in blocks
    assert "budget left" in blocks
    replies = fake_slack.of("chat.postMessage")[1:]
    assert len(replies) == len(PANEL)
    assert len({r.args["thread_ts"] for r in replies}) == 1
    assert fake_slack.responses == []
    assert slack_lines.lines == ["Slack app connected in Socket Mode (no public URL needed)."]

    redis = connect_redis(redis_server.url)
    try:
        status = await RedisBudgetStore.from_defaults(redis, BudgetDefaults()).status(f"|{TEAM_ID}")
    finally:
        await redis.aclose()
    assert status.held_micros == 0
    assert status.daily_spent_micros > 0
    assert format_usd(status.remaining_micros) in blocks


class _Lines(logging.Handler):
    """Collects the Slack command's log lines; ``seen`` is set at the first one."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self.seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        self.seen.set()


@pytest.fixture
def slack_lines() -> Iterator[_Lines]:
    logger = logging.getLogger("bots.commands.slack")
    handler, level = _Lines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


async def test_http_mode_says_where_it_listens_after_checking_the_token(
    fake_slack: FakeSlack,
    redis_server: EmbeddedRedis,
    model_server: FakeModelServer,  # noqa: F811
    pool_file: Path,  # noqa: F811
    tmp_path: Path,
    slack_lines: _Lines,
) -> None:
    port = free_port()
    settings = _settings(
        fake_slack, model_server, pool_file, tmp_path, redis_url=redis_server.url, port=port
    )
    task = asyncio.create_task(serve(settings, run_worker=False, host="127.0.0.1"))
    try:
        async with asyncio.timeout(30):
            await slack_lines.seen.wait()
        assert slack_lines.lines == [
            f"Slack app listening: events at http://127.0.0.1:{port}/slack/events "
            "(set the app's Request URL to https://<your public host>/slack/events)."
        ]
        async with httpx.AsyncClient() as http:
            health = await http.get(f"http://127.0.0.1:{port}/healthz")
        assert health.status_code == 200
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert [c.token for c in fake_slack.of("auth.test")] == [BOT_TOKEN]


def test_any_interface_is_shown_as_localhost_and_socket_mode_says_so() -> None:
    assert "http://localhost:3000/slack/events" in listening_line(
        host="0.0.0.0", port=3000, socket_mode=False
    )
    assert listening_line(host="0.0.0.0", port=3000, socket_mode=True) == (
        "Slack app connected in Socket Mode (no public URL needed)."
    )


async def test_a_refused_bot_token_stops_the_process_with_one_line(
    fake_slack: FakeSlack,
    model_server: FakeModelServer,  # noqa: F811
    pool_file: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    fake_slack.fail("auth.test", "invalid_auth")
    env = {
        "OPENROUTER_API_KEY": "test-key",
        "OPENROUTER_BASE_URL": model_server.base_url,
        "FUSION_CONFIG": str(pool_file),
        "FUSION_DATA_DIR": str(tmp_path / "data"),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": "signing",
        "SLACK_API_URL": fake_slack.api_url,
    }
    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["slack"], env=env, catch_exceptions=False
    )
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines()[-1] == (
        "Error: Slack refused SLACK_BOT_TOKEN (invalid_auth). Copy the Bot User OAuth Token "
        "(xoxb-...) again from your app's OAuth & Permissions page (reinstall the app if it "
        "was revoked)."
    )
    assert BOT_TOKEN not in result.output
    assert model_server.requests == []


async def test_an_unreachable_slack_is_named() -> None:
    url = f"http://127.0.0.1:{free_port()}/api/"
    with pytest.raises(UnavailableError, match=rf"^Cannot reach Slack at {url} \(.*SLACK_API_URL"):
        await check_bot_token(BOT_TOKEN, url)
