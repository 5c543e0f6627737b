"""``fusion discord``: run the Discord gateway bot (the Procfile's ``discord`` process).

The process owns, in one ``AsyncExitStack``: Redis (``REDIS_URL``, or an embedded server
persisted under ``FUSION_DATA_DIR`` when unset), the model runtime, the budget store, the rate
limiter, the saq job queue, the service, and the bot. By default it also runs fusion jobs itself
when there is no ``REDIS_URL`` (one machine, one process); with ``REDIS_URL`` jobs go to
``fusion worker`` processes unless ``--worker`` is given.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Annotated

import typer

from bots.cli_support import OneLineErrorsCommand, cli_errors, load_settings, run_until_stopped
from fusion_engine.errors import ConfigError, UnavailableError

if TYPE_CHECKING:  # discord.py and the settings load only when a Discord command runs
    import logging

    import discord

    from bots.settings import Settings

__all__ = ["connect", "login", "register", "require_token", "serve"]

_LOGIN_REFUSED = (
    "Discord refused DISCORD_TOKEN (401 Unauthorized). Open your application at "
    "https://discord.com/developers/applications, Bot → Reset Token, and set DISCORD_TOKEN to "
    "the new token."
)
_NO_CREDENTIAL_FIX = (
    "DISCORD_TOKEN is not set. Create an application at https://discord.com/developers/"
    "applications, open Bot → Reset Token, and run `export DISCORD_TOKEN=...` (or put it in "
    ".env). See README.md, 'Discord'."
)


def require_token(settings: Settings) -> str:
    """The bot token, or a ``ConfigError`` that says how to get one."""
    from bots.settings import secret_value

    token = secret_value(settings.discord_token)
    if token is None:
        raise ConfigError(_NO_CREDENTIAL_FIX)
    return token


async def login(client: discord.Client, token: str) -> None:
    """Log ``client`` in; a refused token is a ``ConfigError`` and an unreachable Discord an
    ``UnavailableError``, each saying what to check, instead of discord.py's traceback."""
    import aiohttp
    import discord
    from discord.http import Route

    try:
        await client.login(token)
    except discord.LoginFailure:
        raise ConfigError(_LOGIN_REFUSED) from None
    except (OSError, aiohttp.ClientError, TimeoutError, discord.DiscordServerError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise UnavailableError(
            f"Cannot reach Discord at {Route.BASE} ({reason}). Check the network (and "
            "DISCORD_API_URL, if set), then start again."
        ) from None


async def connect(client: discord.Client) -> None:
    """Hold the gateway connection until the bot closes; an unreachable gateway at start-up is
    an ``UnavailableError`` naming it.

    discord.py reconnects by itself once connected, but when its very first connection fails
    its reconnect path reads ``self.ws.sequence`` before any socket existed and dies with an
    ``AttributeError`` (discord/client.py ``connect``): that case is recognised by ``ws`` still
    being ``None``. Its reconnect log lines carry a traceback per network blip; they are kept
    to one line each (``_OneLineReconnects``)."""
    import logging

    from discord.gateway import DiscordWebSocket

    reconnects = logging.getLogger("discord.client")
    quiet = _OneLineReconnects()
    reconnects.addFilter(quiet)
    try:
        await client.connect()
    except AttributeError:
        if client.ws is not None:
            raise
        raise UnavailableError(
            f"Cannot reach Discord's gateway at {DiscordWebSocket.DEFAULT_GATEWAY}. Check the "
            "network (and DISCORD_GATEWAY_URL, if set), then start again."
        ) from None
    finally:
        reconnects.removeFilter(quiet)


class _OneLineReconnects:
    """A logging filter: discord.py's "Attempting a reconnect" record keeps its error on one
    line instead of a traceback (a gateway blip is routine, and the bot retries by itself)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.getMessage().startswith("Attempting a reconnect"):
            error = record.exc_info[1]
            record.msg = f"{record.getMessage()} ({type(error).__name__}: {error})"
            record.args = None
            record.exc_info = None
        return True


async def serve(settings: Settings, *, run_worker: bool | None, sync_commands: bool) -> None:
    """Run the bot until it is closed (Ctrl-C / SIGTERM), with everything it owns."""
    token = require_token(settings)
    # Imported here so `fusion --help` works even where the model stack cannot be imported.
    from adapters.discord import (
        DiscordResponder,
        DiscordRest,
        DiscordStore,
        FusionBot,
        Intake,
        point_at,
    )
    from bots.redis_runtime import open_services, run_jobs_here
    from bots.wiring import Runtime, tune_gc_for_serving

    point_at(settings.discord_api_url, settings.discord_gateway_url)
    if run_worker is None:
        run_worker = settings.redis_url is None
    tune_gc_for_serving()
    async with AsyncExitStack() as stack:
        runtime = await stack.enter_async_context(Runtime.open(settings))
        config = runtime.config
        services = await stack.enter_async_context(open_services(settings, config, runtime.engine))
        store = DiscordStore(services.redis.redis)
        bot = FusionBot(Intake(services.service, config, store), sync_commands=sync_commands)
        stack.push_async_callback(bot.close)
        await login(bot, token)
        if run_worker:
            responder = DiscordResponder(DiscordRest(bot.http), store)
            run_jobs_here(stack, services, runtime.engine, {"discord": responder})
        await connect(bot)


def discord_command(
    worker: Annotated[
        bool | None,
        typer.Option(
            "--worker/--no-worker",
            help="Also run fusion jobs in this process (default: yes without REDIS_URL).",
        ),
    ] = None,
    sync: Annotated[
        bool,
        typer.Option("--sync/--no-sync", help="Register the slash commands at start-up."),
    ] = True,
) -> None:
    """Run the Discord bot: /fuse, @mentions, per-model buttons, /fuse-budget.

    Needs DISCORD_TOKEN and the model key (OPENROUTER_API_KEY). Optional: REDIS_URL."""
    with cli_errors():
        settings = load_settings()
        from bots.observability import configure_logging

        configure_logging(settings.log_level)
        run_until_stopped(serve(settings, run_worker=worker, sync_commands=sync))


def register(app: typer.Typer) -> None:
    app.command("discord", cls=OneLineErrorsCommand)(discord_command)
