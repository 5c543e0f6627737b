"""Where a Slack process gets its bot tokens: the wiring ``fusion slack`` and ``fusion worker``
share (one workspace's token, or the OAuth installation store).

Kept out of the command modules so that a process answering Slack jobs (the worker) does not
import the Slack command, and so the rule lives in one place.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

from bots.settings import Settings, secret_value

if TYPE_CHECKING:  # slack_bolt loads only when a Slack process runs
    from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow

    from adapters.slack import TokenSource

__all__ = ["open_slack_tokens"]


async def open_slack_tokens(
    settings: Settings, stack: AsyncExitStack, bot_token: str | None
) -> tuple[TokenSource, AsyncOAuthFlow | None]:
    """Where bot tokens come from: the one workspace's ``bot_token``, or (``None``) the OAuth
    installation store, opened on ``stack``; with the OAuth flow in that case."""
    from adapters.slack import InstallationTokens, StaticToken, open_oauth

    if bot_token is not None:
        return StaticToken(bot_token), None
    stores = await stack.enter_async_context(
        open_oauth(
            client_id=settings.slack_client_id or "",
            client_secret=secret_value(settings.slack_client_secret) or "",
            db_url=settings.slack_installation_db,
            api_url=settings.slack_api_url,
        )
    )
    return InstallationTokens(stores.installations), stores.flow
