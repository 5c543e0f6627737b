"""The Slack app under test, served for real on loopback, with everything else faked offline.

``SlackHarness`` wires the real adapter (bolt ``AsyncApp`` in an aiohttp server, signature
checks on), the real ``FusionService`` with an in-memory budget and queue whose ``Worker`` runs
jobs through a ``ScriptedEngine`` (hand-made events, no model calls), a real Redis for the
adapter's state, and ``FakeSlack`` as the Web API. Tests send signed requests exactly as Slack
would.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer
from slack_bolt.async_app import AsyncApp

from adapters.slack import (
    SlackApp,
    SlackHandlers,
    SlackResponder,
    StaticToken,
    build_app,
    web_app,
)
from fusion_engine.budget.memory import MemoryBudgetStore
from fusion_engine.config import FusionConfig, load_config
from fusion_engine.events import FusionEvent
from fusion_engine.jobs.memory import MemoryJobQueue
from fusion_engine.jobs.worker import Worker
from fusion_engine.ratelimit import UserRateLimiter
from fusion_engine.request import FusionRequest
from fusion_engine.result import FusionResult
from fusion_engine.scripted import ScriptedEngine
from fusion_engine.service import FusionService
from tests.bots.samples import sample_events, sample_result
from tests.fakes.slack_api import BOT_TOKEN, TEAM_ID, FakeSlack
from tests.fakes.slack_requests import fuse_command_form
from tests.fakes.slack_requests import signed_headers as sign

SIGNING_SECRET = "test-signing-secret"
QUOTE_MICROS = 12_345


@dataclass
class SampleFusion:
    """The script of the harness's engine: the sample events of ``make_result(request)``."""

    make_result: Callable[[FusionRequest], FusionResult] = field(
        default=lambda request: sample_result(degraded=True)
    )

    def __call__(self, request: FusionRequest) -> list[FusionEvent]:
        result = self.make_result(request).model_copy(
            update={"question": request.question, "request_id": request.request_id}
        )
        return sample_events(result)


def scripted_engine(script: SampleFusion | None = None) -> ScriptedEngine:
    """A fixed quote, and the sample events for any request."""
    return ScriptedEngine(script or SampleFusion(), quote=QUOTE_MICROS)


def signed_headers(body: str, *, secret: str = SIGNING_SECRET, age_s: float = 0) -> dict[str, str]:
    return sign(body, secret=secret, age_s=age_s)


@dataclass(kw_only=True)
class SlackClient:
    """Sends signed requests to the app exactly as Slack would."""

    fake: FakeSlack
    http: httpx.AsyncClient
    _trigger: int = 0

    async def post(self, body: str, content_type: str, **sign: Any) -> httpx.Response:
        headers = {"Content-Type": content_type, **signed_headers(body, **sign)}
        return await self.http.post("/slack/events", content=body, headers=headers)

    async def command(
        self, text: str, *, user: str = "U1", channel: str = "C1", **sign: Any
    ) -> httpx.Response:
        self._trigger += 1
        form = fuse_command_form(
            text,
            response_url=self.fake.response_url(),
            trigger_id=f"trigger-{self._trigger}",
            user=user,
            channel=channel,
        )
        return await self.post(form, "application/x-www-form-urlencoded", **sign)

    async def event(
        self, event: dict[str, Any], *, event_id: str, retry: int | None = None
    ) -> httpx.Response:
        body = json.dumps(
            {
                "type": "event_callback",
                "team_id": TEAM_ID,
                "api_app_id": "A0001",
                "event_id": event_id,
                "event_time": int(time.time()),
                "event": event,
                "authorizations": [{"team_id": TEAM_ID, "user_id": "UBOT", "is_bot": True}],
            }
        )
        headers = {"Content-Type": "application/json", **signed_headers(body)}
        if retry is not None:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        return await self.http.post("/slack/events", content=body, headers=headers)

    async def action(self, action_id: str, value: str, *, user: str = "U1") -> httpx.Response:
        self._trigger += 1
        payload = {
            "type": "block_actions",
            "team": {"id": TEAM_ID},
            "user": {"id": user},
            "channel": {"id": "C1"},
            "trigger_id": f"trigger-{self._trigger}",
            "response_url": self.fake.response_url(),
            "actions": [{"action_id": action_id, "value": value, "type": "button"}],
        }
        body = urllib.parse.urlencode({"payload": json.dumps(payload)})
        return await self.post(body, "application/x-www-form-urlencoded")


@dataclass(kw_only=True)
class SlackHarness(SlackClient):
    redis: aioredis.Redis
    config: FusionConfig
    runner: ScriptedEngine
    script: SampleFusion
    budgets: MemoryBudgetStore
    queue: MemoryJobQueue
    service: FusionService
    responder: SlackResponder
    app: AsyncApp


async def serve(
    handlers: SlackHandlers, fake: FakeSlack
) -> tuple[SlackApp, TestServer, httpx.AsyncClient]:
    """The bolt app for ``handlers`` in a real aiohttp server on loopback, and a client."""
    app = build_app(
        handlers, signing_secret=SIGNING_SECRET, api_url=fake.api_url, bot_token=BOT_TOKEN
    )
    server = TestServer(web_app(app), host="127.0.0.1")
    await server.start_server()
    http = httpx.AsyncClient(base_url=str(server.make_url("")), timeout=10)
    return app, server, http


def build_handlers(
    fake: FakeSlack, redis: aioredis.Redis, runner: ScriptedEngine, *, rate: str = "100/minute"
) -> tuple[SlackHandlers, FusionService, MemoryBudgetStore, MemoryJobQueue, SlackResponder]:
    config = load_config()
    budgets = MemoryBudgetStore()
    responder = SlackResponder(StaticToken(BOT_TOKEN), redis, api_url=fake.api_url, interval_s=0.05)
    worker = Worker(engine=runner, budgets=budgets, responders={"slack": responder})
    queue = MemoryJobQueue(worker)
    service = FusionService(
        config=config,
        engine=runner,
        budgets=budgets,
        queue=queue,
        limiter=UserRateLimiter.in_memory(rate),
    )
    handlers = SlackHandlers(service=service, config=config, redis=redis, responder=responder)
    return handlers, service, budgets, queue, responder


async def open_harness(
    fake: FakeSlack, redis: aioredis.Redis, *, rate: str = "100/minute"
) -> tuple[SlackHarness, TestServer]:
    script = SampleFusion()
    runner = scripted_engine(script)
    handlers, service, budgets, queue, responder = build_handlers(fake, redis, runner, rate=rate)
    app, server, http = await serve(handlers, fake)
    harness = SlackHarness(
        fake=fake,
        redis=redis,
        config=handlers.config,
        runner=runner,
        script=script,
        budgets=budgets,
        queue=queue,
        service=service,
        responder=responder,
        app=app,
        http=http,
    )
    return harness, server


def posted_text(fake: FakeSlack) -> str:
    """Everything the app sent to Slack, as one JSON string (for safety assertions)."""
    return json.dumps([c.args for c in fake.calls] + [b for _, b in fake.responses])
