"""Distribution to many workspaces: bolt's OAuth flow over a persistent installation store.

Each workspace that installs Fusion gets a row in the store (SQLite by default, any SQLAlchemy
URL) and, because the tenant is ``enterprise_id|team_id``, its own budget. Replies find their
workspace's bot token through ``InstallationTokens``. Single-workspace mode (``SLACK_BOT_TOKEN``)
skips all of this and uses ``StaticToken``.

The stores are slack_sdk's async SQLAlchemy ones, so no database call blocks the event loop:
``sqlite:///path`` is run through ``aiosqlite``; other URLs must name an async driver
(``postgresql+asyncpg://…``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.slack.responder import new_web_client
from fusion_engine.errors import ConfigError, UnavailableError
from fusion_engine.jobs.base import ReplyTarget

__all__ = ["BOT_SCOPES", "InstallationTokens", "OAuthStores", "async_db_url", "open_oauth"]

BOT_SCOPES: tuple[str, ...] = (
    "app_mentions:read",
    "channels:history",
    "channels:join",
    "chat:write",
    "commands",
    "groups:history",
    "im:history",
    "im:write",
    "users:read",
)
"""Keep in step with ``slack_manifest.json``."""

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def async_db_url(url: str) -> URL:
    """The async-driver form of a database URL (``sqlite:///x.db`` → ``sqlite+aiosqlite:///x.db``)."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ConfigError(
            f"SLACK_INSTALLATION_DB is not a database URL ({exc.__class__.__name__}); "
            "use e.g. sqlite:///.fusion/slack_installations.db"
        ) from None
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    if driver is not None:
        parsed = parsed.set(drivername=driver)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    return parsed


@dataclass(frozen=True)
class OAuthStores:
    installations: AsyncInstallationStore
    flow: AsyncOAuthFlow


@asynccontextmanager
async def open_oauth(
    *,
    client_id: str,
    client_secret: str,
    db_url: str,
    api_url: str,
    scopes: Sequence[str] = BOT_SCOPES,
    redirect_uri: str | None = None,
) -> AsyncIterator[OAuthStores]:
    """Open the installation and OAuth-state stores (creating their tables) and the flow."""
    engine = create_async_engine(async_db_url(db_url))
    try:
        installations = AsyncSQLAlchemyInstallationStore(client_id=client_id, engine=engine)
        states = AsyncSQLAlchemyOAuthStateStore(expiration_seconds=600, engine=engine)
        await installations.create_tables()  # type: ignore[no-untyped-call]
        await states.create_tables()  # type: ignore[no-untyped-call]
        settings = AsyncOAuthSettings(
            client_id=client_id,
            client_secret=client_secret,
            scopes=list(scopes),
            redirect_uri=redirect_uri,
            installation_store=installations,
            state_store=states,
        )
        flow = AsyncOAuthFlow(client=new_web_client(api_url), settings=settings)
        yield OAuthStores(installations=installations, flow=flow)
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class InstallationTokens:
    """The bot token of the workspace a reply goes to, from the installation store."""

    store: AsyncInstallationStore

    async def bot_token(self, reply: ReplyTarget) -> str:
        enterprise_id = reply.extra.get("enterprise_id") or None
        team_id = reply.extra.get("team_id") or None
        bot = await self.store.async_find_bot(
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=reply.extra.get("is_enterprise_install") == "1",
        )
        if bot is None or not bot.bot_token:
            raise UnavailableError(
                "Fusion is no longer installed in this workspace; reinstall it to get answers."
            )
        return bot.bot_token
