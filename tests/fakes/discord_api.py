"""A loopback fake of Discord: the REST API under ``/api/v10`` and the gateway WebSocket.

The real ``discord.py`` client talks to it unchanged (``adapters.discord.point_at`` redirects
``Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY``). The gateway speaks Discord's protocol
in plain JSON text frames (discord.py asks for ``compress=zlib-stream`` but only inflates
binary frames, so uncompressed text is accepted): HELLO (op 10), IDENTIFY (op 2) → READY +
GUILD_CREATE, heartbeats (op 1 → op 11), then whatever ``INTERACTION_CREATE`` /
``MESSAGE_CREATE`` dispatches a test sends. Every REST call is recorded (method, path, query,
JSON body) so tests can assert on ``allowed_mentions``, ephemeral ``flags``, which endpoint
answered, and in which order. Tests script failures with ``fail(...)`` (403 Missing
Permissions, 401 Invalid Webhook Token…).

By hand: ``python -m tests.fakes.discord_api --port 8797`` serves it until Ctrl-C and prints the
settings that point ``fusion discord`` at it; ``POST /_fake/fuse`` makes its user ask ``/fuse``
and ``GET /_fake/calls`` lets another process read what the bot posted (``tests.fakes.try_chat``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web
from discord.utils import time_snowflake

from tests.fakes.discord_events import (
    APP_ID,
    BOT_ID,
    CHANNEL_ID,
    GUILD_ID,
    OWNER_ID,
    USER_ID,
    DiscordPayloads,
    now_iso,
    question,
    user_payload,
)

__all__ = [
    "APP_ID",
    "BOT_ID",
    "CHANNEL_ID",
    "GUILD_ID",
    "USER_ID",
    "FakeDiscord",
    "RestCall",
    "ScriptedFailure",
]

JSON = dict[str, Any]


@dataclass(frozen=True)
class RestCall:
    method: str
    path: str
    """Path below ``/api/v10``, e.g. ``/channels/1/messages``."""
    query: dict[str, str]
    json: Any
    status: int


@dataclass
class ScriptedFailure:
    method: str
    pattern: re.Pattern[str]
    status: int
    code: int
    message: str
    times: int | None
    """How many calls fail; ``None`` for all of them."""


@dataclass
class _State:
    messages: dict[str, JSON] = field(default_factory=dict)
    originals: dict[str, str] = field(default_factory=dict)
    """interaction token → message id of its ``@original`` response."""
    threads: dict[str, JSON] = field(default_factory=dict)


class FakeDiscord(DiscordPayloads):
    """One fake Discord: an app/bot user, one guild with one text channel, REST + gateway."""

    def __init__(self, port: int = 0) -> None:
        self.calls: list[RestCall] = []
        self.identifies: list[JSON] = []
        self.gateway_queries: list[dict[str, str]] = []
        self.failures: list[ScriptedFailure] = []
        self.expired_tokens: set[str] = set()
        self.state = _State()
        self._ids = itertools.count(1)
        self._sockets: set[web.WebSocketResponse] = set()
        self._seq = itertools.count(1)
        self._changed = asyncio.Condition()
        self.ready = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = port
        """The loopback port to listen on (0: any free one); the bound port once started."""
        self.bot_user = user_payload(BOT_ID, "Fusion", bot=True)
        self.user = user_payload(USER_ID, "alice")
        self.owner = user_payload(OWNER_ID, "owner")

    # lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> FakeDiscord:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        app.router.add_post("/_fake/fuse", self._control_fuse)
        app.router.add_get("/_fake/calls", self._recorded_calls)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def snowflake(self, at: datetime | None = None) -> str:
        """A fresh, unique snowflake whose timestamp is ``at`` (now by default)."""
        return str(time_snowflake(at or datetime.now(UTC)) + next(self._ids))

    # scripting -----------------------------------------------------------------------------

    def fail(
        self,
        method: str,
        path_regex: str,
        *,
        status: int = 403,
        code: int = 50013,
        message: str = "Missing Permissions",
        times: int | None = None,
    ) -> None:
        """Make matching REST calls fail with Discord's error body."""
        self.failures.append(
            ScriptedFailure(method, re.compile(path_regex), status, code, message, times)
        )

    def expire_token(self, token: str) -> None:
        """Webhook calls with this interaction token get 401 Invalid Webhook Token (50027)."""
        self.expired_tokens.add(token)

    def calls_to(self, method: str, path_regex: str) -> list[RestCall]:
        pattern = re.compile(path_regex)
        return [c for c in self.calls if c.method == method and pattern.fullmatch(c.path)]

    async def wait_for_call(
        self,
        method: str,
        path_regex: str,
        *,
        count: int = 1,
        where: Callable[[RestCall], bool] | None = None,
        within: float = 20.0,
    ) -> list[RestCall]:
        """Wait until ``count`` matching calls were made (a hang becomes a clear failure)."""

        def matching() -> list[RestCall]:
            found = self.calls_to(method, path_regex)
            return [c for c in found if where is None or where(c)]

        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: len(matching()) >= count)
        return matching()

    # gateway -------------------------------------------------------------------------------

    async def dispatch(self, event: str, data: JSON) -> None:
        """Send a DISPATCH (op 0) to every identified gateway connection."""
        await asyncio.wait_for(self.ready.wait(), 20)
        for ws in list(self._sockets):
            await ws.send_str(json.dumps({"op": 0, "s": next(self._seq), "t": event, "d": data}))

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.gateway_queries.append(dict(request.query))
        await ws.send_str(
            json.dumps({"op": 10, "s": None, "t": None, "d": {"heartbeat_interval": 41250}})
        )
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                payload = json.loads(msg.data)
                if payload["op"] == 1:
                    await ws.send_str(json.dumps({"op": 11, "s": None, "t": None, "d": None}))
                elif payload["op"] in (2, 6):
                    self.identifies.append(payload["d"])
                    await self._send_ready(ws)
        finally:
            self._sockets.discard(ws)
            if not self._sockets:
                self.ready.clear()
        return ws

    async def _send_ready(self, ws: web.WebSocketResponse) -> None:
        ready = {
            "v": 10,
            "user": self.bot_user,
            "guilds": [{"id": GUILD_ID, "unavailable": True}],
            "session_id": "fake-session",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": APP_ID, "flags": 0},
            "private_channels": [],
        }
        await ws.send_str(json.dumps({"op": 0, "s": next(self._seq), "t": "READY", "d": ready}))
        await ws.send_str(
            json.dumps({"op": 0, "s": next(self._seq), "t": "GUILD_CREATE", "d": self.guild()})
        )
        self._sockets.add(ws)
        self.ready.set()

    # control (for a process that plays the user, e.g. tests.fakes.try_chat) --------------

    async def _control_fuse(self, request: web.Request) -> web.Response:
        """``POST /_fake/fuse {"question": ...}``: the user runs ``/fuse`` in the guild's
        channel; answers the interaction token, or 503 when no bot connects within ``wait``."""
        body = await request.json()
        try:
            async with asyncio.timeout(float(body.get("wait", 60))):
                await self.ready.wait()
        except TimeoutError:
            return web.json_response({"error": "no bot is connected to the gateway"}, status=503)
        event = self.slash_command("fuse", question(str(body["question"])))
        await self.dispatch("INTERACTION_CREATE", event)
        return web.json_response({"token": event["token"]})

    async def _recorded_calls(self, request: web.Request) -> web.Response:
        """``GET /_fake/calls?after=N``: the REST calls recorded after the first ``N``, waiting
        up to ``wait`` seconds (default 10) for one, so a poller needs no sleeps."""
        after = int(request.query.get("after", "0"))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(float(request.query.get("wait", "10"))), self._changed:
                await self._changed.wait_for(lambda: len(self.calls) > after)
        calls = [{"method": c.method, "path": c.path, "json": c.json} for c in self.calls[after:]]
        return web.json_response({"calls": calls, "next": after + len(calls)})

    # REST ----------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            body = json.loads(raw) if raw else None
        status, payload = self._handle(request.method, path, dict(request.query), body)
        call = RestCall(request.method, path, dict(request.query), body, status)
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()
        if payload is None:
            return web.Response(status=204)
        # Exactly "application/json" (no charset): discord.py parses only that as JSON.
        return web.Response(
            body=json.dumps(payload).encode(),
            status=status,
            headers={"Content-Type": "application/json"},
        )

    def _scripted(self, method: str, path: str) -> ScriptedFailure | None:
        for failure in self.failures:
            if failure.method == method and failure.pattern.fullmatch(path):
                if failure.times is not None:
                    if failure.times <= 0:
                        continue
                    failure.times -= 1
                return failure
        return None

    def _handle(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        failure = self._scripted(method, path)
        if failure is not None:
            return failure.status, {"message": failure.message, "code": failure.code}
        webhook = re.fullmatch(r"/webhooks/(\d+)/([^/]+)(/messages/([^/]+))?", path)
        if webhook and webhook.group(2) in self.expired_tokens:
            return 401, {"message": "Invalid Webhook Token", "code": 50027}
        for pattern, handler in self._routes():
            match = re.fullmatch(pattern[1], path)
            if match and method == pattern[0]:
                return handler(body, query, *match.groups())
        return 404, {"message": "404: Not Found", "code": 0}

    def _routes(self) -> list[tuple[tuple[str, str], Callable[..., tuple[int, Any]]]]:
        return [
            (("GET", r"/users/@me"), lambda *_: (200, self.bot_user)),
            (("GET", r"/gateway(/bot)?"), lambda *_: (200, self._gateway_info())),
            (("GET", r"/oauth2/applications/@me"), lambda *_: (200, self._app_info())),
            (("PUT", r"/applications/(\d+)/commands"), self._sync_commands),
            (("PUT", r"/applications/(\d+)/guilds/(\d+)/commands"), self._sync_commands),
            (("POST", r"/interactions/(\d+)/([^/]+)/callback"), self._callback),
            (("POST", r"/webhooks/(\d+)/([^/]+)"), self._followup),
            (("PATCH", r"/webhooks/(\d+)/([^/]+)/messages/([^/]+)"), self._edit_webhook_message),
            (("GET", r"/webhooks/(\d+)/([^/]+)/messages/([^/]+)"), self._get_webhook_message),
            (("DELETE", r"/webhooks/(\d+)/([^/]+)/messages/([^/]+)"), self._delete_webhook_message),
            (("POST", r"/channels/(\d+)/messages"), self._create_message),
            (("PATCH", r"/channels/(\d+)/messages/(\d+)"), self._edit_message),
            (("GET", r"/channels/(\d+)/messages/(\d+)"), self._get_message),
            (("DELETE", r"/channels/(\d+)/messages/(\d+)"), self._delete_message),
            (("POST", r"/channels/(\d+)/messages/(\d+)/threads"), self._start_thread),
            (("POST", r"/users/@me/channels"), self._open_dm),
        ]

    def _gateway_info(self) -> JSON:
        return {
            "url": self.gateway_url,
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 1000,
                "reset_after": 0,
                "max_concurrency": 1,
            },
        }

    def _app_info(self) -> JSON:
        return {
            "id": APP_ID,
            "name": "Fusion",
            "icon": None,
            "description": "",
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self.owner,
            "verify_key": "0" * 64,
            "flags": 0,
            "team": None,
        }

    def _sync_commands(self, body: Any, _query: dict[str, str], *ids: str) -> tuple[int, Any]:
        out = []
        for cmd in body or []:
            out.append({**cmd, "id": self.snowflake(), "application_id": ids[0], "version": "1"})
        return 200, out

    def _message(self, channel_id: str, body: JSON, **extra: Any) -> JSON:
        message_id = self.snowflake()
        message: JSON = {
            "id": message_id,
            "channel_id": channel_id,
            "author": self.bot_user,
            "content": body.get("content") or "",
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "attachments": [],
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": False,
            "timestamp": now_iso(),
            "edited_timestamp": None,
            "type": 0,
            "flags": body.get("flags") or 0,
            **extra,
        }
        self.state.messages[message_id] = message
        return message

    def _update(self, message_id: str, body: JSON) -> tuple[int, Any]:
        message = self.state.messages.get(message_id)
        if message is None:
            return 404, {"message": "Unknown Message", "code": 10008}
        for key in ("content", "embeds", "components", "flags"):
            if key in body:
                message[key] = body[key] if body[key] is not None else message[key]
        message["edited_timestamp"] = now_iso()
        return 200, message

    def _callback(
        self, body: Any, _q: dict[str, str], interaction_id: str, token: str
    ) -> tuple[int, Any]:
        kind = body["type"]
        result: JSON = {"interaction": {"id": interaction_id, "type": 2}}
        if kind in (4, 5):
            message = self._message(
                CHANNEL_ID,
                body.get("data") or {},
                type=20,
                webhook_id=APP_ID,
                application_id=APP_ID,
            )
            if kind == 5:
                message["flags"] = (body.get("data") or {}).get("flags", 0) | 128
            self.state.originals[token] = message["id"]
            result["interaction"]["response_message_id"] = message["id"]
            result["interaction"]["response_message_loading"] = kind == 5
            result["resource"] = {"type": kind, "message": message}
        return 200, result

    def _followup(
        self, body: Any, query: dict[str, str], app_id: str, token: str
    ) -> tuple[int, Any]:
        if token not in self.state.originals:
            return 404, {"message": "Unknown Webhook", "code": 10015}
        message = self._message(CHANNEL_ID, body or {}, webhook_id=app_id, application_id=app_id)
        return 200, message

    def _resolve(self, token: str, message_id: str) -> str | None:
        return self.state.originals.get(token) if message_id == "@original" else message_id

    def _edit_webhook_message(
        self, body: Any, _q: dict[str, str], _app: str, token: str, message_id: str
    ) -> tuple[int, Any]:
        resolved = self._resolve(token, message_id)
        if resolved is None:
            return 404, {"message": "Unknown Webhook", "code": 10015}
        if message_id == "@original":
            message = self.state.messages[resolved]
            message["flags"] = message.get("flags", 0) & ~128
        return self._update(resolved, body or {})

    def _get_webhook_message(
        self, _b: Any, _q: dict[str, str], _app: str, token: str, message_id: str
    ) -> tuple[int, Any]:
        resolved = self._resolve(token, message_id)
        if resolved is None or resolved not in self.state.messages:
            return 404, {"message": "Unknown Message", "code": 10008}
        return 200, self.state.messages[resolved]

    def _delete_webhook_message(
        self, _b: Any, _q: dict[str, str], _app: str, token: str, message_id: str
    ) -> tuple[int, Any]:
        resolved = self._resolve(token, message_id)
        if resolved is None or self.state.messages.pop(resolved, None) is None:
            return 404, {"message": "Unknown Message", "code": 10008}
        return 204, None

    def _create_message(self, body: Any, _q: dict[str, str], channel_id: str) -> tuple[int, Any]:
        return 200, self._message(channel_id, body or {})

    def _edit_message(
        self, body: Any, _q: dict[str, str], _channel: str, message_id: str
    ) -> tuple[int, Any]:
        return self._update(message_id, body or {})

    def _get_message(
        self, _b: Any, _q: dict[str, str], _channel: str, message_id: str
    ) -> tuple[int, Any]:
        if message_id not in self.state.messages:
            return 404, {"message": "Unknown Message", "code": 10008}
        return 200, self.state.messages[message_id]

    def _delete_message(
        self, _b: Any, _q: dict[str, str], _channel: str, message_id: str
    ) -> tuple[int, Any]:
        if self.state.messages.pop(message_id, None) is None:
            return 404, {"message": "Unknown Message", "code": 10008}
        return 204, None

    def _start_thread(
        self, body: Any, _q: dict[str, str], channel_id: str, message_id: str
    ) -> tuple[int, Any]:
        if message_id in self.state.threads:
            return 400, {
                "message": "A thread has already been created for this message",
                "code": 160004,
            }
        thread = {
            "id": message_id,
            "guild_id": GUILD_ID,
            "parent_id": channel_id,
            "owner_id": BOT_ID,
            "type": 11,
            "name": (body or {}).get("name", "thread"),
            "message_count": 0,
            "member_count": 1,
            "rate_limit_per_user": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": now_iso(),
                "locked": False,
            },
        }
        self.state.threads[message_id] = thread
        return 201, thread

    def _open_dm(self, body: Any, _q: dict[str, str]) -> tuple[int, Any]:
        recipient = str((body or {}).get("recipient_id"))
        return 200, {"id": f"95{recipient[2:]}", "type": 1, "recipients": [self.user]}

    # helpers for assertions ----------------------------------------------------------------

    def original(self, token: str) -> JSON:
        return self.state.messages[self.state.originals[token]]

    def bot_message(self, channel_id: str, payload: JSON) -> JSON:
        """Store a message as if the bot had posted it earlier (an answer with its buttons)."""
        return self._message(channel_id, payload)

    def messages_in(self, channel_id: str) -> list[JSON]:
        return [m for m in self.state.messages.values() if m["channel_id"] == channel_id]

    def _threads(self) -> dict[str, JSON]:
        return self.state.threads

    def _stored_message(self, message_id: str) -> JSON:
        return self.state.messages[message_id]


async def _serve_forever(port: int) -> None:
    async with FakeDiscord(port=port) as fake:
        print(
            f"fake Discord at http://127.0.0.1:{fake.port}: DISCORD_API_URL={fake.api_url} "
            f"DISCORD_GATEWAY_URL={fake.gateway_url} (any DISCORD_TOKEN)",
            flush=True,
        )
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    """Serve the fake on loopback until interrupted."""
    parser = argparse.ArgumentParser(description="A loopback fake of Discord (REST + gateway).")
    parser.add_argument("--port", type=int, default=8797)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(args.port))


if __name__ == "__main__":
    main()
