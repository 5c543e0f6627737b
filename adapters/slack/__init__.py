"""The Slack adapter: ``/fuse``, mentions and DMs in, Block Kit messages out.

Public API:

- ``build_app(handlers, *, signing_secret, api_url, bot_token=None, oauth_flow=None) -> SlackApp``
  (bolt's ``AsyncApp`` plus the ``RequestGate`` that refuses junk HTTP requests)
- ``web_app(app) -> aiohttp.web.Application`` (``/slack/events``, ``/healthz``, OAuth pages)
- ``socket_mode(app, *, app_token, api_url)`` (async context manager)
- ``SlackHandlers(service, config, redis, responder)``: the listeners
- ``SlackResponder(tokens, redis, api_url=..., interval_s=1.0)``: the job ``Responder``
  (its Redis state goes through ``SlackStore``, keys in ``adapters.slack.keys``)
- ``StaticToken(token)`` / ``InstallationTokens(store)``: where a reply's bot token comes from
- ``open_oauth(client_id=..., client_secret=..., db_url=..., api_url=...)``: installation store
  + OAuth flow (async context manager yielding ``OAuthStores``)
- ``escape(text)``: Slack's control-character escaping for untrusted text
"""

from adapters.slack.app import SlackHandlers, tenant_of
from adapters.slack.install import BOT_SCOPES, InstallationTokens, OAuthStores, open_oauth
from adapters.slack.responder import SlackResponder, StaticToken, TokenSource, new_web_client
from adapters.slack.server import (
    EVENTS_PATH,
    HEALTH_PATH,
    SlackApp,
    build_app,
    socket_mode,
    web_app,
)
from adapters.slack.text import escape

__all__ = [
    "BOT_SCOPES",
    "EVENTS_PATH",
    "HEALTH_PATH",
    "InstallationTokens",
    "OAuthStores",
    "SlackApp",
    "SlackHandlers",
    "SlackResponder",
    "StaticToken",
    "TokenSource",
    "build_app",
    "escape",
    "new_web_client",
    "open_oauth",
    "socket_mode",
    "tenant_of",
    "web_app",
]
