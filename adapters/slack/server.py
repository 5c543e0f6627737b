"""Serving the app: HTTP (``/slack/events``, ``/healthz``, the OAuth pages) or Socket Mode.

``build_app`` makes the bolt ``AsyncApp`` (single-workspace with a bot token, or multi-workspace
with an OAuth flow), pointing every Web API call at ``api_url`` so tests can use a loopback fake.
``web_app`` wraps it in an aiohttp application; ``socket_mode`` connects it over a WebSocket
instead when an app-level token is set. Bolt verifies every HTTP request's signature and
timestamp (a forged or stale one gets 401 and nothing runs) and acks before listeners finish
(``process_before_response`` stays off).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow

from adapters.slack.app import SlackHandlers, register
from adapters.slack.responder import new_web_client
from fusion_engine.errors import ConfigError

__all__ = ["EVENTS_PATH", "HEALTH_PATH", "build_app", "socket_mode", "web_app"]

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"


def build_app(
    handlers: SlackHandlers,
    *,
    signing_secret: str,
    api_url: str,
    bot_token: str | None = None,
    oauth_flow: AsyncOAuthFlow | None = None,
) -> AsyncApp:
    """The bolt app with Fusion's listeners. Give exactly one of ``bot_token``/``oauth_flow``."""
    if (bot_token is None) == (oauth_flow is None):
        raise ConfigError(
            "Set SLACK_BOT_TOKEN for one workspace, or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET "
            "to let many workspaces install Fusion (not both)."
        )
    app = AsyncApp(
        name="fusion",
        signing_secret=signing_secret,
        client=new_web_client(api_url, bot_token),
        oauth_flow=oauth_flow,
        process_before_response=False,
    )
    register(app, handlers)
    return app


def web_app(app: AsyncApp) -> web.Application:
    """An aiohttp application serving ``app`` over HTTP."""

    async def events(request: web.Request) -> web.Response:
        response = await app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    routes = [web.post(EVENTS_PATH, events), web.get(HEALTH_PATH, health)]
    flow = app.oauth_flow
    if flow is not None:

        async def install(request: web.Request) -> web.Response:
            return await to_aiohttp_response(
                await flow.handle_installation(await to_bolt_request(request))
            )

        async def callback(request: web.Request) -> web.Response:
            return await to_aiohttp_response(
                await flow.handle_callback(await to_bolt_request(request))
            )

        routes += [web.get(flow.install_path, install), web.get(flow.redirect_uri_path, callback)]
    application = web.Application()
    application.add_routes(routes)
    return application


@asynccontextmanager
async def socket_mode(app: AsyncApp, *, app_token: str, api_url: str) -> AsyncIterator[None]:
    """Connect ``app`` to Slack over Socket Mode for the duration of the block."""
    handler = AsyncSocketModeHandler(app, app_token=app_token, web_client=new_web_client(api_url))
    await handler.connect_async()  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]
