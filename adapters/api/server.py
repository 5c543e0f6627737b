"""The OpenAI-compatible HTTP API: ``POST /v1/chat/completions``, ``GET /v1/models``, ``/healthz``.

Each request is authenticated by its key (which names the tenant that pays), rate-limited per
key, translated (``wire``) and run in this process by the core's ``run_charged``, so it is
charged exactly as a chat question is: quote, hold, every call covered, settle what was spent.
Refusals happen before the response starts, as OpenAI-shaped errors (``errors``); once a stream
has started, a failure arrives as an ``error`` chunk. A client that hangs up cancels the handler
(``handler_cancellation``), which cancels the fusion's calls; the hold is settled at what they
had spent.

Streaming sends the writer's text as ``chat.completion.chunk`` deltas the moment it arrives,
progress as SSE comment lines (``: Asking 3 models… 2/3 answered``), which OpenAI clients skip,
and ``data: [DONE]`` last.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from adapters.api.errors import INVALID_KEY, ApiError, error_body, from_fusion_error
from adapters.api.keys import RATE_LIMIT_SUBJECT
from adapters.api.store import ApiKey, ApiKeyStore
from adapters.api.wire import (
    ChatCompletionRequest,
    chunk,
    completion,
    model_list,
    parse_request,
)
from adapters.common.progress import ProgressView
from fusion_engine.budget.base import BudgetStore
from fusion_engine.config import FusionConfig
from fusion_engine.errors import FusionError, InputError
from fusion_engine.events import Done, FusionEvent, WriterDelta
from fusion_engine.port import EnginePort
from fusion_engine.ratelimit import UserRateLimiter
from fusion_engine.request import FusionRequest
from fusion_engine.result import FusionResult
from fusion_engine.service import run_charged

__all__ = ["COMPLETIONS_PATH", "HEALTH_PATH", "MODELS_PATH", "ApiDeps", "web_app"]

log = logging.getLogger(__name__)

COMPLETIONS_PATH = "/v1/chat/completions"
MODELS_PATH = "/v1/models"
HEALTH_PATH = "/healthz"


@dataclass(frozen=True, slots=True)
class ApiDeps:
    """What the API needs from the process: the pools, the engine, budgets, limits, keys."""

    config: FusionConfig
    engine: EnginePort
    budgets: BudgetStore
    limiter: UserRateLimiter
    keys: ApiKeyStore


def _error_response(error: ApiError) -> web.Response:
    return web.json_response(error_body(error), status=error.status, headers=error.headers)


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


class _EventStream:
    """One streamed completion: the response starts with the fusion's first event (after the
    budget hold), so a refusal is still an ordinary error response."""

    def __init__(self, request: web.Request, completion_id: str, model: str) -> None:
        self._request = request
        self._id = completion_id
        self._model = model
        self._view = ProgressView()
        self._stage = ""
        self._role_sent = False
        self.response: web.StreamResponse | None = None

    async def on_event(self, event: FusionEvent) -> None:
        response = self.response
        if response is None:
            response = web.StreamResponse(
                headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
            )
            await response.prepare(self._request)
            self.response = response
        if isinstance(event, WriterDelta):
            delta: dict[str, Any] = {"content": event.text}
            if not self._role_sent:
                delta, self._role_sent = {"role": "assistant", **delta}, True
            await response.write(_sse(chunk(self._id, self._model, delta=delta)))
        elif not isinstance(event, Done) and self._view.apply(event):
            stage = self._view.stage_line()
            if stage != self._stage:
                self._stage = stage
                await response.write(f": {stage}\n\n".encode())

    async def finish(self, result: FusionResult, *, include_usage: bool) -> None:
        assert self.response is not None  # Done is an event: the response has started
        if not self._role_sent:  # an empty answer still says who speaks
            delta = {"role": "assistant", "content": ""}
            await self.response.write(_sse(chunk(self._id, self._model, delta=delta)))
        await self.response.write(_sse(chunk(self._id, self._model, result=result)))
        if include_usage:
            usage = chunk(self._id, self._model, result=result, with_usage=True)
            await self.response.write(_sse(usage))
        await self.response.write(b"data: [DONE]\n\n")

    async def fail(self, error: ApiError) -> None:
        assert self.response is not None
        await self.response.write(_sse(error_body(error)))
        await self.response.write(b"data: [DONE]\n\n")


def web_app(deps: ApiDeps) -> web.Application:
    """The aiohttp application. Serve it with ``handler_cancellation=True`` so a client that
    hangs up stops its fusion (``serve`` in ``bots.commands.serve`` does)."""
    started = int(time.time())

    async def authenticate(request: web.Request) -> ApiKey:
        scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
        key = await deps.keys.find(secret.strip()) if scheme.lower() == "bearer" else None
        if key is None:
            raise INVALID_KEY
        return key

    async def admit(
        request: web.Request,
    ) -> tuple[ApiKey, ChatCompletionRequest, FusionRequest]:
        key = await authenticate(request)
        try:
            body = await request.json()
        except ValueError:
            raise InputError("The request body is not JSON.") from None
        chat, fusion = parse_request(body, deps.config)
        await deps.limiter.hit(RATE_LIMIT_SUBJECT.format(id=key.id))
        return key, chat, fusion.model_copy(update={"tenant": key.tenant})

    async def completions(request: web.Request) -> web.StreamResponse:
        try:
            key, chat, fusion = await admit(request)
        except ApiError as exc:
            return _error_response(exc)
        except FusionError as exc:
            return _error_response(from_fusion_error(exc))
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        model = chat.model
        if not chat.stream:
            try:
                result = await run_charged(deps.budgets, deps.engine, fusion, tenant=key.tenant)
            except FusionError as exc:
                return _error_response(from_fusion_error(exc))
            return web.json_response(completion(completion_id, model, result))
        stream = _EventStream(request, completion_id, model)
        try:
            result = await run_charged(
                deps.budgets, deps.engine, fusion, tenant=key.tenant, on_event=stream.on_event
            )
        except FusionError as exc:
            if stream.response is None:
                return _error_response(from_fusion_error(exc))
            await stream.fail(from_fusion_error(exc))
            return stream.response
        await stream.finish(result, include_usage=chat.include_usage)
        assert stream.response is not None
        return stream.response

    async def models(request: web.Request) -> web.Response:
        try:
            await authenticate(request)
        except ApiError as exc:
            return _error_response(exc)
        except FusionError as exc:
            return _error_response(from_fusion_error(exc))
        return web.json_response(model_list(deps.config, started))

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.add_routes(
        [
            web.post(COMPLETIONS_PATH, completions),
            web.get(MODELS_PATH, models),
            web.get(HEALTH_PATH, health),
        ]
    )
    return app
