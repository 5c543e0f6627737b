"""``fusion discord`` as a process runs it: the real wiring, end to end, offline.

``serve`` runs against the loopback fake Discord (REST + gateway), a real Redis (budgets in
Lua, the saq queue, the worker's ledger), the real engine talking to the fake model server, and
the worker in-process. A ``/fuse`` pushed over the gateway is deferred, then answered with the
fused text, a thread with one message per panel model, and the guild charged once.
"""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

import pytest
from pydantic import SecretStr

from bots.commands.discord import serve
from bots.embedded_redis import EmbeddedRedis
from bots.settings import Settings
from bots.wiring import GC_THRESHOLDS
from fusion_engine.budget.redis_store import RedisBudgetStore
from fusion_engine.config import BudgetDefaults
from fusion_engine.money import format_usd
from fusion_engine.redis_guard import connect_redis
from tests.adapters.discord.conftest import question
from tests.bots.conftest import PANEL, WRITER, model_server, pool_file  # noqa: F401
from tests.fakes.discord_api import CHANNEL_ID, GUILD_ID, FakeDiscord
from tests.fakes.model_server import FakeModelServer


async def test_fusion_discord_end_to_end(
    fake_discord: FakeDiscord,
    redis_server: EmbeddedRedis,
    model_server: FakeModelServer,  # noqa: F811
    pool_file: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    settings = Settings.model_validate(
        {
            "openrouter_api_key": SecretStr("test-key"),
            "openrouter_base_url": model_server.base_url,
            "fusion_config": pool_file,
            "redis_url": redis_server.url,
            "FUSION_DATA_DIR": tmp_path,
            "discord_token": SecretStr("fake-token"),
            "discord_api_url": fake_discord.api_url,
            "discord_gateway_url": fake_discord.gateway_url,
        }
    )
    task = asyncio.create_task(serve(settings, run_worker=True, sync_commands=True))
    try:
        event = fake_discord.slash_command("fuse", question("what is the answer to everything?"))
        await fake_discord.dispatch("INTERACTION_CREATE", event)
        answer_id = await _answer_id(fake_discord, str(event["token"]))
        await fake_discord.wait_for_call(
            "POST", rf"/channels/{answer_id}/messages", count=len(PANEL)
        )
        asked_before = len(model_server.requests)
        follow = fake_discord.mention("and why 42?", channel_id=answer_id)
        await fake_discord.dispatch("MESSAGE_CREATE", follow)
        (follow_answer,) = await fake_discord.wait_for_call(
            "PATCH",
            rf"/channels/{answer_id}/messages/\d+",
            where=lambda c: c.json.get("content") == f"{WRITER} thinks the answer is 42.",
            within=60,
        )
        assert gc.get_threshold() == GC_THRESHOLDS  # a serving process tunes its GC
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    (defer,) = fake_discord.calls_to("POST", r"/interactions/\d+/[^/]+/callback")
    assert defer.json["type"] == 5
    answer = fake_discord.original(str(event["token"]))
    assert answer["content"] == f"{WRITER} thinks the answer is 42."
    assert len([b for row in answer["components"] for b in row["components"]]) == len(PANEL)
    thread = fake_discord.messages_in(answer_id)[: len(PANEL)]
    assert sorted(m["content"].splitlines()[0].split("**")[1] for m in thread) == sorted(PANEL)
    assert fake_discord.calls_to("POST", rf"/channels/{CHANNEL_ID}/messages/{answer_id}/threads")

    follow_up_prompts = [str(r.body["messages"]) for r in model_server.requests[asked_before:]]
    assert follow_up_prompts
    assert all("and why 42?" in p for p in follow_up_prompts)
    assert any("what is the answer to everything?" in p for p in follow_up_prompts), (
        "the thread's first question reached the models as context"
    )
    assert len(fake_discord.state.threads) == 1, "the follow-up stays in the same thread"

    redis = connect_redis(redis_server.url)
    try:
        status = await RedisBudgetStore.from_defaults(redis, BudgetDefaults()).status(GUILD_ID)
    finally:
        await redis.aclose()
    assert status.held_micros == 0
    assert status.daily_spent_micros > 0
    footer = follow_answer.json["embeds"][-1]["description"]
    assert f"{format_usd(status.remaining_micros)} budget left" in footer, "after the last fusion"


async def _answer_id(fake: FakeDiscord, token: str) -> str:
    """Wait for the edit that turns the deferred message into the answer (it has buttons)."""
    await fake.wait_for_call(
        "PATCH",
        rf"/webhooks/\d+/{token}/messages/@original",
        where=lambda c: bool(c.json.get("components")),
        within=60,
    )
    return fake.state.originals[token]
