"""The bot against the real ``FusionService`` and ``Worker``: budgets and rate limits on a real
Redis, jobs through the worker's exactly-once path into the real ``DiscordResponder``. The
engine is a scripted stand-in (quote + event stream) so these tests stay fast."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis

from adapters.discord import DiscordStore, FusionBot
from fusion_engine.budget.redis_store import RedisBudgetStore
from fusion_engine.config import FusionConfig
from fusion_engine.jobs.memory import MemoryJobQueue
from fusion_engine.jobs.worker import Worker
from fusion_engine.money import format_usd
from fusion_engine.ratelimit import UserRateLimiter
from fusion_engine.scripted import ScriptedEngine
from fusion_engine.service import FusionService
from tests.adapters.discord.conftest import connect_bot, make_result, question, scripted_events
from tests.fakes.discord_api import GUILD_ID, FakeDiscord

QUOTE_MICROS = 40_000


def scripted_engine() -> ScriptedEngine:
    """The sample answer for any question, quoted at ``QUOTE_MICROS``."""
    return ScriptedEngine(lambda _r: scripted_events(make_result()), quote=QUOTE_MICROS)


@dataclass
class Stack:
    bot: FusionBot
    queue: MemoryJobQueue
    budgets: RedisBudgetStore


@pytest.fixture
async def stack(
    fake_discord: FakeDiscord,
    redis_client: aioredis.Redis,
    store: DiscordStore,
    config: FusionConfig,
) -> AsyncIterator[Stack]:
    engine = scripted_engine()
    budgets = RedisBudgetStore.from_defaults(redis_client, config.budgets)
    queue = MemoryJobQueue()
    service = FusionService(
        config=config,
        engine=engine,
        budgets=budgets,
        queue=queue,
        limiter=UserRateLimiter.on_redis("2/minute", redis_client),
    )
    bot, responder, task = await connect_bot(service, store, config)
    queue.worker = Worker(
        engine=engine, budgets=budgets, responders={"discord": responder}, redis=redis_client
    )
    yield Stack(bot, queue, budgets)
    await queue.join()
    await bot.close()
    await task


async def _ask(fake: FakeDiscord, stack: Stack, text: str = "q") -> dict[str, object]:
    event = fake.slash_command("fuse", question(text))
    await fake.dispatch("INTERACTION_CREATE", event)
    await fake.wait_for_call("POST", rf"/interactions/{event['id']}/[^/]+/callback")
    return event


async def test_answer_is_charged_once_and_shows_the_budget_left(
    fake_discord: FakeDiscord, stack: Stack
) -> None:
    event = await _ask(fake_discord, stack)
    await fake_discord.wait_for_call("POST", r"/channels/\d+/messages/\d+/threads")
    await stack.queue.join()
    status = await stack.budgets.status(GUILD_ID)
    assert status.daily_spent_micros == make_result().cost_micros
    assert status.held_micros == 0
    answer = fake_discord.original(str(event["token"]))
    assert answer["content"].startswith("The sky is blue")
    footer = answer["embeds"][-1]["description"]
    assert status.remaining_micros == 5_000_000 - make_result().cost_micros
    assert f"{format_usd(status.remaining_micros)} budget left" in footer


async def test_over_budget_refusal_charges_nothing(fake_discord: FakeDiscord, stack: Stack) -> None:
    await stack.budgets.set_limits(GUILD_ID, daily_micros=QUOTE_MICROS - 1, monthly_micros=10**9)
    event = await _ask(fake_discord, stack)
    (followup,) = await fake_discord.wait_for_call("POST", rf"/webhooks/\d+/{event['token']}")
    assert followup.json["flags"] & 64
    assert "daily budget" in followup.json["content"]
    status = await stack.budgets.status(GUILD_ID)
    assert (status.daily_spent_micros, status.held_micros) == (0, 0)
    assert stack.queue.jobs == {}


async def test_rate_limit_refusal_charges_nothing(fake_discord: FakeDiscord, stack: Stack) -> None:
    for _ in range(2):
        await _ask(fake_discord, stack)
    await stack.queue.join()
    spent = (await stack.budgets.status(GUILD_ID)).daily_spent_micros
    event = await _ask(fake_discord, stack)
    (followup,) = await fake_discord.wait_for_call("POST", rf"/webhooks/\d+/{event['token']}")
    assert "Too many questions" in followup.json["content"]
    assert followup.json["flags"] & 64
    assert (await stack.budgets.status(GUILD_ID)).daily_spent_micros == spent
    assert len(stack.queue.jobs) == 2
