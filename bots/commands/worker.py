"""``fusion worker``: run fusion jobs from the Redis queue and post the answers.

It answers every platform it has credentials for (Slack: ``SLACK_BOT_TOKEN`` or the OAuth app
settings; Discord: ``DISCORD_TOKEN``) and takes jobs only from those platforms' queues. SIGTERM
(what Heroku and Kubernetes send) stops taking jobs, gives running ones ``--grace`` seconds
(default 25: Heroku kills 30 s after SIGTERM), then hands the rest back to the queue for another
worker. Redis down: the worker waits and reconnects with backoff instead of crash-looping.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Annotated

import typer

from bots.cli_support import OneLineErrorsCommand, cli_errors, load_settings
from fusion_engine.errors import ConfigError
from fusion_engine.logs import get_logger

if TYPE_CHECKING:  # Redis, saq and the platforms load when the worker runs
    import redis.asyncio as aioredis

    from bots.settings import Settings
    from fusion_engine.jobs.base import Responder

__all__ = ["build_responders", "register", "serve_worker"]

log = get_logger(__name__)

_NO_PLATFORM = (
    "fusion worker has no platform to answer: set SLACK_BOT_TOKEN (or SLACK_CLIENT_ID and "
    "SLACK_CLIENT_SECRET for a multi-workspace app) and/or DISCORD_TOKEN."
)


async def build_responders(
    settings: Settings, stack: AsyncExitStack, redis: aioredis.Redis
) -> dict[str, Responder]:
    """A responder per platform with credentials, its resources opened on ``stack``."""
    from bots.settings import secret_value

    responders: dict[str, Responder] = {}
    oauth = settings.slack_client_id and secret_value(settings.slack_client_secret)
    # The same rule as `fusion slack`: with OAuth credentials, installations own the tokens.
    bot_token = None if oauth else secret_value(settings.slack_bot_token)
    if bot_token or oauth:
        from adapters.slack import SlackResponder
        from bots.slack_runtime import open_slack_tokens

        tokens, _flow = await open_slack_tokens(settings, stack, bot_token)
        responders["slack"] = SlackResponder(tokens, redis, api_url=settings.slack_api_url)
    discord_token = secret_value(settings.discord_token)
    if discord_token:
        import discord

        from adapters.discord import DiscordResponder, DiscordRest, DiscordStore, point_at
        from bots.commands.discord import login

        point_at(settings.discord_api_url, settings.discord_gateway_url)
        client = discord.Client(intents=discord.Intents.none())
        stack.push_async_callback(client.close)
        await login(client, discord_token)  # REST only: a worker needs no gateway connection
        responders["discord"] = DiscordResponder(DiscordRest(client.http), DiscordStore(redis))
    if not responders:
        raise ConfigError(_NO_PLATFORM)
    return responders


async def serve_worker(settings: Settings, *, concurrency: int, grace_s: int) -> None:
    """Run jobs until SIGTERM/SIGINT, with everything the worker owns."""
    import structlog

    from bots.redis_runtime import open_services
    from bots.wiring import Runtime, tune_gc_for_serving
    from fusion_engine.jobs.worker import Worker

    log = structlog.get_logger("fusion.worker")
    tune_gc_for_serving()
    async with AsyncExitStack() as stack:
        runtime = await stack.enter_async_context(Runtime.open(settings))
        services = await stack.enter_async_context(
            open_services(settings, runtime.config, runtime.engine)
        )
        redis = services.redis.redis
        responders = await build_responders(settings, stack, redis)
        worker = Worker(
            engine=runtime.engine, budgets=services.budgets, responders=responders, redis=redis
        )
        runner = services.queue.worker(worker, concurrency=concurrency, shutdown_grace_s=grace_s)
        log.info(
            "worker started",
            platforms=list(responders),
            concurrency=concurrency,
            embedded_redis=services.redis.embedded,
        )
        await runner.start(handle_signals=True)
        log.info("worker stopped")


def worker(
    concurrency: Annotated[
        int, typer.Option(min=1, max=256, help="Jobs run at once per platform.")
    ] = 8,
    grace: Annotated[
        int,
        typer.Option(
            min=0, help="Seconds running jobs get to finish after SIGTERM before hand-back."
        ),
    ] = 25,
) -> None:
    """Run fusion jobs from the queue and post answers (Procfile `worker`).

    Needs the model key (OPENROUTER_API_KEY), REDIS_URL (the queue the chat processes share;
    unset: the embedded one) and the tokens of each platform it answers: SLACK_BOT_TOKEN (or
    SLACK_CLIENT_ID and SLACK_CLIENT_SECRET) and/or DISCORD_TOKEN."""
    import asyncio

    from bots.observability import configure_logging, start_metrics_server

    with cli_errors():
        settings = load_settings()
        configure_logging(settings.log_level)
        start_metrics_server(settings.metrics_port)
        asyncio.run(serve_worker(settings, concurrency=concurrency, grace_s=grace))


def register(app: typer.Typer) -> None:
    """Add ``fusion worker`` to the CLI."""
    app.command("worker", cls=OneLineErrorsCommand)(worker)
