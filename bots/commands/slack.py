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

from bots.cli_support import OneLineErrorsCommand, cli_errors, load_settings, run_until_stopped
from fusion_engine.errors import ConfigError, UnavailableError
from fusion_engine.logs import get_logger

if TYPE_CHECKING:  # slack_bolt, aiohttp and the settings load only when a Slack command runs
    from bots.settings import Settings

__all__ = ["check_bot_token", "listening_line", "register", "serve", "slack_credentials"]

log = get_logger(__name__)

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


_SLACK_REFUSED = (
    "Slack refused SLACK_BOT_TOKEN ({error}). Copy the Bot User OAuth Token (xoxb-...) again "
    "from your app's OAuth & Permissions page (reinstall the app if it was revoked)."
)
_ANY_HOST = ("", "0.0.0.0", "::")  # noqa: S104 - recognised, not bound


async def check_bot_token(token: str, api_url: str) -> None:
    """Ask Slack (``auth.test``) whether ``token`` is accepted, before anything else starts:
    a refused token is a ``ConfigError`` naming the variable, an unreachable Slack an
    ``UnavailableError``, instead of a process that starts and then fails every request."""
    import aiohttp
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    try:
        await AsyncWebClient(token=token, base_url=api_url).auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        raise ConfigError(_SLACK_REFUSED.format(error=error or "refused")) from None
    except (OSError, aiohttp.ClientError, TimeoutError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise UnavailableError(
            f"Cannot reach Slack at {api_url} ({reason}). Check the network (and "
            "SLACK_API_URL, if set), then start again."
        ) from None


def listening_line(*, host: str, port: int, socket_mode: bool) -> str:
    """The one line that says where the app can be reached."""
    if socket_mode:
        return "Slack app connected in Socket Mode (no public URL needed)."
    shown = "localhost" if host in _ANY_HOST else host
    return (
        f"Slack app listening: events at http://{shown}:{port}/slack/events "
        "(set the app's Request URL to https://<your public host>/slack/events)."
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
        if bot_token is not None:  # after the pool file and model key are known to be good
            await check_bot_token(bot_token, api_url)
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
        log.info(listening_line(host=host, port=settings.port, socket_mode=app_token is not None))
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
    with cli_errors():
        settings = load_settings()
        from bots.observability import configure_logging

        configure_logging(settings.log_level)
        run_until_stopped(serve(settings, run_worker=worker, host=host))


def register(app: typer.Typer) -> None:
    app.command("slack", cls=OneLineErrorsCommand)(slack_command)
