"""With Redis really stopped, every Discord path tells the user the README's message.

The real bot and the real ``FusionService`` (budgets in Lua, the saq queue, the rate limiter)
share one private Redis with the adapter's ``DiscordStore``, as ``fusion discord`` wires them;
the test stops that server, then sends each kind of interaction or message through the fake
gateway and reads what reached the fake REST API: ``UNAVAILABLE_MESSAGE``, word for word.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from adapters.discord import DiscordStore, FusionBot
from adapters.discord.render import answer_payloads
from bots.embedded_redis import EmbeddedRedis
from fusion_engine.config import FusionConfig
from fusion_engine.redis_guard import UNAVAILABLE_MESSAGE
from tests.adapters.discord.conftest import connect_bot, make_result, question
from tests.adapters.discord.test_with_service import scripted_engine
from tests.adapters.redis_service import redis_service
from tests.fakes.discord_api import CHANNEL_ID, FakeDiscord

EPHEMERAL = 64


@pytest.fixture
async def bot_on_redis(
    fake_discord: FakeDiscord, own_redis: EmbeddedRedis, config: FusionConfig
) -> AsyncIterator[FusionBot]:
    async with redis_service(own_redis.url, config, scripted_engine()) as (service, redis):
        bot, _, task = await connect_bot(service, DiscordStore(redis), config)
        try:
            yield bot
        finally:
            await bot.close()
            await task


async def _fuse(fake: FakeDiscord, *, dm: bool) -> str:
    """``/fuse``: deferred, then the refusal as an ephemeral follow-up."""
    event = fake.slash_command("fuse", question("why?"), dm=dm)
    await fake.dispatch("INTERACTION_CREATE", event)
    (followup,) = await fake.wait_for_call("POST", rf"/webhooks/\d+/{event['token']}")
    assert followup.json["flags"] & EPHEMERAL
    return str(followup.json["content"])


async def _replied(fake: FakeDiscord, event: dict[str, Any]) -> str:
    """A mention: the "Thinking…" placeholder is edited to say why there is no answer."""
    await fake.dispatch("MESSAGE_CREATE", event)
    (edit,) = await fake.wait_for_call("PATCH", rf"/channels/{event['channel_id']}/messages/\d+")
    return str(edit.json["content"])


def _dm_message(fake: FakeDiscord) -> dict[str, Any]:
    event = fake.mention("why?", channel_id="940000000000000001")
    del event["guild_id"], event["member"]
    return event


async def _answered_immediately(fake: FakeDiscord, event: dict[str, Any]) -> str:
    await fake.dispatch("INTERACTION_CREATE", event)
    (call,) = await fake.wait_for_call("POST", rf"/interactions/{event['id']}/[^/]+/callback")
    assert call.json["type"] == 4
    assert call.json["data"]["flags"] & EPHEMERAL
    return str(call.json["data"]["content"])


def _button(fake: FakeDiscord) -> dict[str, Any]:
    answer = fake.bot_message(CHANNEL_ID, answer_payloads(make_result(), None, "discord:1")[0])
    custom_id = answer["components"][0]["components"][0]["custom_id"]
    return fake.button_click(custom_id, answer["id"])


def _budget(fake: FakeDiscord, sub: str) -> dict[str, Any]:
    limits = [
        {"name": "daily_usd", "type": 10, "value": 2.5},
        {"name": "monthly_usd", "type": 10, "value": 20},
    ]
    options = limits if sub == "set" else []
    return fake.slash_command("fuse-budget", options, subcommand=sub, manage_guild=True)


PATHS: dict[str, Callable[[FakeDiscord], Awaitable[str]]] = {
    "slash-fuse": lambda f: _fuse(f, dm=False),
    "slash-fuse-in-dm": lambda f: _fuse(f, dm=True),
    "mention": lambda f: _replied(f, f.mention("why?")),
    "dm-message": lambda f: _replied(f, _dm_message(f)),
    "model-button": lambda f: _answered_immediately(f, _button(f)),
    "budget-show": lambda f: _answered_immediately(f, _budget(f, "show")),
    "budget-set": lambda f: _answered_immediately(f, _budget(f, "set")),
}


@pytest.mark.parametrize("path", list(PATHS), ids=list(PATHS))
async def test_redis_down_is_told_in_the_readme_words(
    fake_discord: FakeDiscord,
    bot_on_redis: FusionBot,
    own_redis: EmbeddedRedis,
    caplog: pytest.LogCaptureFixture,
    path: str,
) -> None:
    own_redis.stop()
    caplog.set_level(logging.INFO)
    assert await PATHS[path](fake_discord) == UNAVAILABLE_MESSAGE
    assert "Traceback" not in caplog.text
