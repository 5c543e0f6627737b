"""A loopback fake of Slack: the Web API under ``/api/<method>``, ``response_url`` endpoints,
the OAuth ``oauth.v2.access`` exchange, and a Socket Mode WebSocket.

``slack_sdk`` talks to it unchanged (``AsyncWebClient(base_url=fake.api_url)``). Like Slack, it
accepts form-encoded and JSON bodies, takes the token from ``Authorization: Bearer`` or a
``token`` field, and answers ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}`` with
HTTP 200 (429 + ``Retry-After`` for ``ratelimited``). Every call is recorded (method, args,
token) so tests can assert on what was posted, edited, joined, and in which order.

Scripting: ``fail(method, error, times=1, retry_after=None)``; channels where the bot is not a
member (``not_member``) answer ``chat.postMessage`` with ``not_in_channel`` until a
``conversations.join`` (public channels only; ``private`` ones refuse the join); ``roles`` maps
user ids to ``"admin" | "owner" | "member"`` for ``users.info``.

By hand: ``python -m tests.fakes.slack_api --port 8798`` serves it until Ctrl-C and prints the
settings that point ``fusion slack`` at it; ``GET /_fake/calls`` lets another process read what
the app posted (``tests.fakes.try_chat``).

Socket Mode: ``apps.connections.open`` hands out ``ws://127.0.0.1:<port>/socket``; a test
``await fake.push(envelope)`` and ``await fake.ack_for(envelope_id)`` reads the app's ack.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

__all__ = ["TEAM_ID", "FakeSlack", "SlackCall"]

JSON = dict[str, Any]

TEAM_ID = "T0001"
ENTERPRISE_ID = ""
BOT_USER_ID = "UBOT"
BOT_ID = "B0001"
BOT_TOKEN = "xoxb-test-token"


@dataclass(frozen=True)
class SlackCall:
    method: str
    args: JSON
    token: str | None


@dataclass
class _Failure:
    error: str
    times: int
    retry_after: int | None


@dataclass
class FakeSlack:
    """Start with ``async with FakeSlack() as fake``; ``fake.api_url`` is the Web API base URL."""

    not_member: set[str] = field(default_factory=set)
    private: set[str] = field(default_factory=set)
    roles: dict[str, str] = field(default_factory=dict)
    calls: list[SlackCall] = field(default_factory=list)
    responses: list[tuple[str, JSON]] = field(default_factory=list)
    """``(response_url path, body)`` for every POST to a response_url."""
    thread_messages: dict[str, list[JSON]] = field(default_factory=dict)
    """``conversations.replies`` answers, by thread ts."""
    port: int = 0
    """The loopback port to listen on (0: any free one); the bound port once started."""

    def __post_init__(self) -> None:
        self._failures: dict[str, list[_Failure]] = {}
        self._ts = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._socket: web.WebSocketResponse | None = None
        self._socket_ready = asyncio.Event()
        self._acks: dict[str, asyncio.Future[JSON]] = {}
        self.call_event = asyncio.Condition()

    # -- lifecycle -------------------------------------------------------------------------
    async def __aenter__(self) -> FakeSlack:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{rid}", self._response_url)
        app.router.add_get("/socket", self._ws)
        app.router.add_get("/_fake/calls", self._recorded_calls)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._socket is not None:
            await self._socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/"

    def response_url(self) -> str:
        return f"{self.base}/response/{uuid.uuid4().hex}"

    # -- scripting -------------------------------------------------------------------------
    def fail(
        self, method: str, error: str, *, times: int = 1, retry_after: int | None = None
    ) -> None:
        self._failures.setdefault(method, []).append(_Failure(error, times, retry_after))

    def of(self, method: str) -> list[SlackCall]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(self, predicate: Any) -> None:
        """Wait until ``predicate(fake)`` is true (checked after every recorded call)."""
        async with asyncio.timeout(10), self.call_event:
            await self.call_event.wait_for(lambda: predicate(self))

    # -- Web API ---------------------------------------------------------------------------
    async def _args(self, request: web.Request) -> JSON:
        args: JSON = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                args |= await request.json()
            else:
                form = await request.post()
                args |= {k: v for k, v in form.items() if isinstance(v, str)}
        for key in ("blocks", "attachments"):
            if isinstance(args.get(key), str):
                args[key] = json.loads(args[key])
        return args

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._args(request)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else args.get("token")
        self.calls.append(SlackCall(method, args, token))
        try:
            failures = self._failures.get(method, [])
            if failures:
                failure = failures[0]
                failure.times -= 1
                if failure.times <= 0:
                    failures.pop(0)
                headers = {}
                status = 200
                if failure.retry_after is not None:
                    status, headers = 429, {"Retry-After": str(failure.retry_after)}
                return web.json_response(
                    {"ok": False, "error": failure.error}, status=status, headers=headers
                )
            handler = getattr(self, "_m_" + method.replace(".", "_"), None)
            if handler is None:
                return web.json_response({"ok": True})
            body: JSON = handler(args)
            return web.json_response(body)
        finally:
            async with self.call_event:
                self.call_event.notify_all()

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _m_auth_test(self, args: JSON) -> JSON:
        return {
            "ok": True,
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "url": "https://fake.slack.com/",
            "team": "Fake",
        }

    def _m_chat_postMessage(self, args: JSON) -> JSON:
        channel = str(args.get("channel"))
        if channel in self.not_member:
            return {"ok": False, "error": "not_in_channel"}
        ts = self._next_ts()
        return {"ok": True, "channel": channel, "ts": ts, "message": {"ts": ts}}

    def _m_chat_update(self, args: JSON) -> JSON:
        return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}

    def _m_chat_postEphemeral(self, args: JSON) -> JSON:
        return {"ok": True, "message_ts": self._next_ts()}

    def _m_conversations_join(self, args: JSON) -> JSON:
        channel = str(args.get("channel"))
        if channel in self.private:
            return {"ok": False, "error": "method_not_supported_for_channel_type"}
        self.not_member.discard(channel)
        return {"ok": True, "channel": {"id": channel}}

    def _m_conversations_replies(self, args: JSON) -> JSON:
        return {"ok": True, "messages": self.thread_messages.get(str(args.get("ts")), [])}

    def _m_users_info(self, args: JSON) -> JSON:
        user = str(args.get("user"))
        role = self.roles.get(user, "member")
        return {
            "ok": True,
            "user": {
                "id": user,
                "is_admin": role in ("admin", "owner"),
                "is_owner": role == "owner",
            },
        }

    def _m_oauth_v2_access(self, args: JSON) -> JSON:
        return {
            "ok": True,
            "app_id": "A0001",
            "access_token": BOT_TOKEN,
            "token_type": "bot",
            "scope": "commands,chat:write",
            "bot_user_id": BOT_USER_ID,
            "team": {"id": TEAM_ID, "name": "Fake"},
            "enterprise": None,
            "is_enterprise_install": False,
            "authed_user": {"id": "UINSTALLER"},
        }

    def _m_apps_connections_open(self, args: JSON) -> JSON:
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"}

    # -- control (for a process that plays the user, e.g. tests.fakes.try_chat) -------------
    async def _recorded_calls(self, request: web.Request) -> web.Response:
        """``GET /_fake/calls?after=N``: the Web API calls recorded after the first ``N``,
        waiting up to ``wait`` seconds (default 10) for one, so a poller needs no sleeps."""
        after = int(request.query.get("after", "0"))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(float(request.query.get("wait", "10"))), self.call_event:
                await self.call_event.wait_for(lambda: len(self.calls) > after)
        calls = [{"method": c.method, "args": c.args} for c in self.calls[after:]]
        return web.json_response({"calls": calls, "next": after + len(calls)})

    # -- response_url ----------------------------------------------------------------------
    async def _response_url(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.responses.append((request.path, body))
        async with self.call_event:
            self.call_event.notify_all()
        return web.Response(text="ok")

    # -- Socket Mode -----------------------------------------------------------------------
    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._socket = ws
        await ws.send_json({"type": "hello", "num_connections": 1})
        self._socket_ready.set()
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                data = json.loads(msg.data)
                future = self._acks.get(data.get("envelope_id", ""))
                if future is not None and not future.done():
                    future.set_result(data)
        return ws

    async def push(self, envelope: JSON) -> None:
        """Send an envelope (``events_api``, ``slash_commands``…) to the connected app."""
        await asyncio.wait_for(self._socket_ready.wait(), 10)
        assert self._socket is not None
        self._acks[envelope["envelope_id"]] = asyncio.get_running_loop().create_future()
        await self._socket.send_json(envelope)

    async def ack_for(self, envelope_id: str) -> JSON:
        async with asyncio.timeout(10):
            return await self._acks[envelope_id]


async def _serve_forever(port: int) -> None:
    async with FakeSlack(port=port) as fake:
        print(
            f"fake Slack at {fake.base}: SLACK_API_URL={fake.api_url} SLACK_BOT_TOKEN={BOT_TOKEN}",
            flush=True,
        )
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    """Serve the fake on loopback until interrupted."""
    parser = argparse.ArgumentParser(description="A loopback fake of Slack's Web API.")
    parser.add_argument("--port", type=int, default=8798)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(args.port))


if __name__ == "__main__":
    main()
