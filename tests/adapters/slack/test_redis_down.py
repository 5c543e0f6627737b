"""With Redis really stopped, every Slack path tells the user the README's message.

The service runs on the same private Redis as the adapter (budgets in Lua, the saq queue, the
rate limiter, the adapter's ``seen`` markers and message state), as ``fusion slack`` wires it;
the test stops that server, then drives each path over real HTTP and reads what reached the
fake Slack: ``UNAVAILABLE_MESSAGE``, word for word, and no traceback in the log.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from adapters.slack import SlackHandlers, SlackResponder, StaticToken
from bots.embedded_redis import EmbeddedRedis
from fusion_engine.config import load_config
from fusion_engine.redis_guard import UNAVAILABLE_MESSAGE
from tests.adapters.redis_service import redis_service
from tests.adapters.slack.harness import SlackClient, scripted_engine, serve
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack


@pytest.fixture
async def slack_on_redis(
    fake_slack: FakeSlack, own_redis: EmbeddedRedis
) -> AsyncIterator[SlackClient]:
    config = load_config()
    async with redis_service(own_redis.url, config, scripted_engine()) as (service, redis):
        responder = SlackResponder(StaticToken(BOT_TOKEN), redis, api_url=fake_slack.api_url)
        handlers = SlackHandlers(service=service, config=config, redis=redis, responder=responder)
        _, server, http = await serve(handlers, fake_slack)
        try:
            yield SlackClient(fake=fake_slack, http=http)
        finally:
            await http.aclose()
            await server.close()


async def _slash(slack: SlackClient, text: str) -> str:
    response = await slack.command(text, user="UADMIN")
    assert response.status_code == 200
    ack = str(response.json()["text"])
    if text.startswith("budget set"):  # acked at once; the answer goes to response_url
        assert ack.endswith("Checking your role…")
        await slack.fake.wait_for(lambda f: len(f.responses) == 1)
        return str(slack.fake.responses[0][1]["text"])
    return ack


async def _event(slack: SlackClient, event: dict[str, Any], method: str) -> str:
    response = await slack.event(event, event_id="EvDown")
    assert response.status_code == 200
    await slack.fake.wait_for(lambda f: len(f.of(method)) == 1)
    return str(slack.fake.of(method)[0].args["text"])


async def _click(slack: SlackClient, action_id: str) -> str:
    response = await slack.action(action_id, "slack:cmd:trigger-1")
    assert response.status_code == 200
    await slack.fake.wait_for(lambda f: len(f.responses) == 1)
    body = slack.fake.responses[0][1]
    assert body["response_type"] == "ephemeral"
    return str(body["text"])


_MENTION = {"type": "app_mention", "user": "U1", "text": "<@UBOT> why?", "channel": "C1"}
_DM = {"type": "message", "channel_type": "im", "user": "U1", "text": "why?", "channel": "D1"}

PATHS: dict[str, Callable[[SlackClient], Awaitable[str]]] = {
    "slash-question": lambda s: _slash(s, "what is the answer?"),
    "slash-budget": lambda s: _slash(s, "budget"),
    "slash-budget-set": lambda s: _slash(s, "budget set --daily 1"),
    "mention": lambda s: _event(s, {**_MENTION, "ts": "1.000001"}, "chat.postEphemeral"),
    "mention-help": lambda s: _event(
        s, {**_MENTION, "text": "<@UBOT> help", "ts": "1.000002"}, "chat.postEphemeral"
    ),
    "dm": lambda s: _event(s, {**_DM, "ts": "2.000001"}, "chat.postMessage"),
    "button-rerun": lambda s: _click(s, "fusion_rerun"),
    "button-show-analysis": lambda s: _click(s, "fusion_show_analysis"),
}


@pytest.mark.parametrize("path", list(PATHS), ids=list(PATHS))
async def test_redis_down_is_told_in_the_readme_words(
    slack_on_redis: SlackClient,
    own_redis: EmbeddedRedis,
    caplog: pytest.LogCaptureFixture,
    path: str,
) -> None:
    slack_on_redis.fake.roles["UADMIN"] = "admin"
    own_redis.stop()
    caplog.set_level(logging.INFO)
    told = await PATHS[path](slack_on_redis)
    assert told == UNAVAILABLE_MESSAGE
    assert "Traceback" not in caplog.text
