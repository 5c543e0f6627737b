"""``fusion worker`` picks Slack tokens by the same rule as ``fusion slack``."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import redis.asyncio as aioredis
from pydantic import SecretStr

from adapters.slack import InstallationTokens, SlackResponder, StaticToken
from bots.commands.worker import build_responders
from bots.settings import Settings


async def test_with_oauth_credentials_the_installations_own_the_tokens(
    tmp_path: Path, redis_client: aioredis.Redis
) -> None:
    settings = Settings(
        slack_bot_token=SecretStr("xoxb-single-workspace"),
        slack_client_id="111.222",
        slack_client_secret=SecretStr("client-secret"),
        slack_installation_db=f"sqlite:///{tmp_path / 'installs.db'}",
        slack_api_url="http://127.0.0.1:9/api/",
    )
    async with AsyncExitStack() as stack:
        responders = await build_responders(settings, stack, redis_client)
        slack = responders["slack"]
        assert isinstance(slack, SlackResponder)
        assert isinstance(slack.tokens, InstallationTokens)


async def test_a_bot_token_alone_is_used_as_is(redis_client: aioredis.Redis) -> None:
    settings = Settings(slack_bot_token=SecretStr("xoxb-single-workspace"))
    async with AsyncExitStack() as stack:
        slack = (await build_responders(settings, stack, redis_client))["slack"]
        assert isinstance(slack, SlackResponder)
        assert isinstance(slack.tokens, StaticToken)
