"""Shared pieces for the engine tests: a pool, a role-routing fake, and an event collector."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

from fusion_engine.events import FusionEvent
from fusion_engine.llm.base import ChatRequest, Completion, ModelPrice
from fusion_engine.llm.function import FunctionModelClient, StaticPrices
from fusion_engine.pipeline.engine import FusionEngine
from fusion_engine.pools import PoolSpec
from fusion_engine.request import FusionRequest
from tests.fakes.judge import analysis_json_for, is_judge_request, is_writer_request

MODELS = ("m/a", "m/b", "m/c", "m/d", "m/e")
JUDGE = "m/judge"
WRITER = "m/writer"
FUSED = "The fused answer: forty-two, with caveats."

Reply = str | Completion | Awaitable[str | Completion]
Handler = Callable[[ChatRequest], Reply]


def make_pool(models: tuple[str, ...] = MODELS, **overrides: Any) -> PoolSpec:
    fields: dict[str, Any] = {"judge": JUDGE, "writer": WRITER} | overrides
    return PoolSpec(name="test", models=models, **fields)


def make_request(
    pool: PoolSpec | None = None, question: str = "Why 42?", **kw: Any
) -> FusionRequest:
    return FusionRequest.create(question, pool or make_pool(), **kw)


def judge_reply(request: ChatRequest) -> str:
    return analysis_json_for("\n".join(m.content for m in request.messages))


class Models:
    """A ``FunctionModelClient`` routed per model slug, with sensible defaults per role.

    Panel members answer ``"<slug> says 42"``; the judge answers valid JSON for the labels it
    was shown; the writer answers ``FUSED``. ``handlers[slug]`` overrides one model.
    """

    def __init__(self, prices: StaticPrices | None = None) -> None:
        self.handlers: dict[str, Handler] = {}
        self.client = FunctionModelClient(self._answer, prices=prices, chunk_chars=8)

    @property
    def calls(self) -> list[ChatRequest]:
        return self.client.calls

    def calls_to(self, model: str) -> list[ChatRequest]:
        return [c for c in self.calls if c.model == model]

    def _answer(self, request: ChatRequest) -> Reply:
        handler = self.handlers.get(request.model)
        if handler is not None:
            return handler(request)
        if is_judge_request(request):
            return judge_reply(request)
        if is_writer_request(request):
            return FUSED
        return f"{request.model} says 42"


def make_engine(models: Models, prices: StaticPrices | None = None, seed: int = 7) -> FusionEngine:
    return FusionEngine(models.client, prices or StaticPrices({}), rng=random.Random(seed))


async def collect(engine: FusionEngine, request: FusionRequest) -> list[FusionEvent]:
    return [event async for event in engine.run(request)]


class Hang:
    """A model that never answers: records that it started and which calls were cancelled."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cancelled: list[str] = []

    async def __call__(self, request: ChatRequest) -> str:
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.append(request.model)
            raise
        raise AssertionError("unreachable")


def raiser(exc: Exception) -> Handler:
    """A model that fails with ``exc``."""

    def fail(_: ChatRequest) -> str:
        raise exc

    return fail


PRICE = ModelPrice(prompt_per_mtok=1_000_000, completion_per_mtok=2_000_000)
