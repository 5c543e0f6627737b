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
from pathlib import Path

import pytest
from pydantic import SecretStr

from bots.commands.slack import serve
from bots.embedded_redis import EmbeddedRedis
from bots.settings import Settings
from bots.wiring import GC_THRESHOLDS
from fusion_engine.budget.redis_store import RedisBudgetStore
from fusion_engine.config import BudgetDefaults
from fusion_engine.money import format_usd
from fusion_engine.redis_guard import connect_redis
from tests.bots.conftest import PANEL, model_server, pool_file  # noqa: F401
from tests.fakes.model_server import FakeModelServer
from tests.fakes.slack_api import BOT_TOKEN, TEAM_ID, FakeSlack


async def test_fusion_slack_end_to_end_over_socket_mode(
    fake_slack: FakeSlack,
    redis_server: EmbeddedRedis,
    redis_client: object,
    model_server: FakeModelServer,  # noqa: F811
    pool_file: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """``redis_client`` is asked for so the database starts empty."""
    settings = Settings.model_validate(
        {
            "openrouter_api_key": SecretStr("test-key"),
            "openrouter_base_url": model_server.base_url,
            "fusion_config": pool_file,
            "redis_url": redis_server.url,
            "FUSION_DATA_DIR": tmp_path,
            "slack_bot_token": SecretStr(BOT_TOKEN),
            "slack_app_token": SecretStr("xapp-test"),
            "slack_signing_secret": None,
            "slack_client_id": None,
            "slack_api_url": fake_slack.api_url,
        }
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

    redis = connect_redis(redis_server.url)
    try:
        status = await RedisBudgetStore.from_defaults(redis, BudgetDefaults()).status(f"|{TEAM_ID}")
    finally:
        await redis.aclose()
    assert status.held_micros == 0
    assert status.daily_spent_micros > 0
    assert format_usd(status.remaining_micros) in blocks
