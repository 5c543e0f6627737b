"""``fusion slack``: run the Slack app (the Procfile's ``web`` process).

HTTP mode serves ``/slack/events`` (commands, events, buttons), ``/healthz`` and, with OAuth
credentials, ``/slack/install`` + ``/slack/oauth_redirect`` on ``PORT``. With
``SLACK_APP_TOKEN`` set it connects over Socket Mode instead (no public URL needed).

Credentials pick the mode: ``SLACK_BOT_TOKEN`` for one workspace, or ``SLACK_CLIENT_ID`` +
``SLACK_CLIENT_SECRET`` for many (each installation stored in ``SLACK_INSTALLATION_DB``).
The process owns, in one ``AsyncExitStack``, Redis (``REDIS_URL`` or an embedded server), the
model runtime, the budget store, the rate limiter, the saq queue, the service and the app; it
also runs fusion jobs itself when there is no ``REDIS_URL`` (or with ``--worker``).
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Annotated

import typer

from bots.cli_support import OneLineErrorsCommand, cli_errors, load_settings
from fusion_engine.errors import ConfigError

if TYPE_CHECKING:  # slack_bolt, aiohttp and the settings load only when a Slack command runs
    from bots.settings import Settings

__all__ = ["register", "serve", "slack_credentials"]

_NO_CREDENTIALS = (
    "Slack is not configured. Create the app from slack_manifest.json (api.slack.com/apps → "
    "Create New App → From a manifest), then either set SLACK_BOT_TOKEN (one workspace) or "
    "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (many workspaces), plus SLACK_SIGNING_SECRET. "
    "See README.md, 'Slack'."
)
_NO_SIGNING_HELP = (
    "SLACK_SIGNING_SECRET is not set. Copy it from your app's Basic Information → App "
    "Credentials page, or set SLACK_APP_TOKEN (xapp-…) to use Socket Mode instead."
)


def slack_credentials(settings: Settings) -> tuple[str, str | None, str | None]:
    """``(signing_secret, bot_token, app_token)``; ``ConfigError`` says what is missing.

    ``bot_token`` is ``None`` in OAuth (multi-workspace) mode."""
    from bots.settings import secret_value

    bot_token = secret_value(settings.slack_bot_token)
    app_token = secret_value(settings.slack_app_token)
    oauth = settings.slack_client_id and secret_value(settings.slack_client_secret)
    if bot_token is None and not oauth:
        raise ConfigError(_NO_CREDENTIALS)
    signing_secret = secret_value(settings.slack_signing_secret)
    if signing_secret is None and app_token is None:
        raise ConfigError(_NO_SIGNING_HELP)
    return signing_secret or "", None if oauth else bot_token, app_token


async def serve(settings: Settings, *, run_worker: bool | None, host: str) -> None:
    """Run the Slack app until interrupted, with everything it owns."""
    signing_secret, bot_token, app_token = slack_credentials(settings)
    import asyncio

    from aiohttp import web

    from adapters.slack import SlackHandlers, SlackResponder, build_app, socket_mode, web_app
    from bots.redis_runtime import open_services, run_jobs_here
    from bots.slack_runtime import open_slack_tokens
    from bots.wiring import Runtime, tune_gc_for_serving

    api_url = settings.slack_api_url
    if run_worker is None:
        run_worker = settings.redis_url is None
    tune_gc_for_serving()
    async with AsyncExitStack() as stack:
        runtime = await stack.enter_async_context(Runtime.open(settings))
        config = runtime.config
        services = await stack.enter_async_context(open_services(settings, config, runtime.engine))
        redis = services.redis.redis
        tokens, oauth_flow = await open_slack_tokens(settings, stack, bot_token)
        responder = SlackResponder(tokens, redis, api_url=api_url)
        handlers = SlackHandlers(
            service=services.service, config=config, redis=redis, responder=responder
        )
        app = build_app(
            handlers,
            signing_secret=signing_secret,
            api_url=api_url,
            bot_token=bot_token,
            oauth_flow=oauth_flow,
        )
        if run_worker:
            run_jobs_here(stack, services, runtime.engine, {"slack": responder})
        if app_token is not None:
            await stack.enter_async_context(socket_mode(app, app_token=app_token, api_url=api_url))
        else:
            runner = web.AppRunner(web_app(app))
            await runner.setup()
            stack.push_async_callback(runner.cleanup)
            await web.TCPSite(runner, host, settings.port).start()
        await asyncio.Event().wait()


def slack_command(
    worker: Annotated[
        bool | None,
        typer.Option(
            "--worker/--no-worker",
            help="Also run fusion jobs in this process (default: yes without REDIS_URL).",
        ),
    ] = None,
    host: Annotated[
        str, typer.Option(help="Interface to serve HTTP on (PORT sets the port).")
    ] = "0.0.0.0",  # noqa: S104 - a web process must accept Slack's requests
) -> None:
    """Run the Slack app: /fuse, @mentions, DMs, buttons (HTTP on PORT, or Socket Mode).

    Needs SLACK_BOT_TOKEN (or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET for many workspaces),
    SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN for Socket Mode) and the model key
    (OPENROUTER_API_KEY). Optional: PORT (3000), REDIS_URL, SLACK_INSTALLATION_DB."""
    import asyncio

    with cli_errors():
        settings = load_settings()
        from bots.observability import configure_logging

        configure_logging(settings.log_level)
        asyncio.run(serve(settings, run_worker=worker, host=host))


def register(app: typer.Typer) -> None:
    app.command("slack", cls=OneLineErrorsCommand)(slack_command)
