"""Serving the app: HTTP (``/slack/events``, ``/healthz``, the OAuth pages) or Socket Mode.

``build_app`` makes the bolt ``AsyncApp`` (single-workspace with a bot token, or multi-workspace
with an OAuth flow), pointing every Web API call at ``api_url`` so tests can use a loopback fake.
``web_app`` wraps it in an aiohttp application; ``socket_mode`` connects it over a WebSocket
instead when an app-level token is set. Every HTTP request passes ``gate.RequestGate`` first
(junk, or a forged or stale signature, gets a short 4xx, one log line and nothing runs); bolt
then acks before listeners finish (``process_before_response`` stays off).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow

from adapters.slack.app import SlackHandlers, register
from adapters.slack.gate import Refused, RequestGate
from adapters.slack.responder import new_web_client
from fusion_engine.errors import ConfigError

__all__ = ["EVENTS_PATH", "HEALTH_PATH", "SlackApp", "build_app", "socket_mode", "web_app"]

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"


class SlackApp(AsyncApp):
    """Bolt's ``AsyncApp`` with the ``RequestGate`` its HTTP front door admits requests by
    (bolt keeps its signing secret private, and the gate needs it)."""

    def __init__(self, *, signing_secret: str, **kwargs: Any) -> None:
        super().__init__(signing_secret=signing_secret, **kwargs)
        self.gate = RequestGate(signing_secret)


def build_app(
    handlers: SlackHandlers,
    *,
    signing_secret: str,
    api_url: str,
    bot_token: str | None = None,
    oauth_flow: AsyncOAuthFlow | None = None,
) -> SlackApp:
    """The bolt app with Fusion's listeners. Give exactly one of ``bot_token``/``oauth_flow``."""
    if (bot_token is None) == (oauth_flow is None):
        raise ConfigError(
            "Set SLACK_BOT_TOKEN for one workspace, or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET "
            "to let many workspaces install Fusion (not both)."
        )
    app = SlackApp(
        name="fusion",
        signing_secret=signing_secret,
        client=new_web_client(api_url, bot_token),
        oauth_flow=oauth_flow,
        process_before_response=False,
    )
    register(app, handlers)
    return app


def web_app(app: SlackApp) -> web.Application:
    """An aiohttp application serving ``app`` over HTTP."""

    async def events(request: web.Request) -> web.Response:
        admitted = app.gate.admit(await request.read(), request.headers, request.query_string)
        if isinstance(admitted, Refused):
            log.info("refused a Slack request: %s (HTTP %d)", admitted.reason, admitted.status)
            return web.json_response({"error": admitted.reason}, status=admitted.status)
        return await to_aiohttp_response(await app.async_dispatch(admitted))

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
