"""Stand-ins for the worker's collaborators: a ``ScriptedEngine`` over ``FunctionModelClient`` and
a recording responder. The engine emits the real event sequence with real ``Usage`` costs, and
can be held at a gate after the panel (to kill or cancel a worker at a known point)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from fusion_engine.budget.base import BudgetStatus
from fusion_engine.errors import FusionError, QuorumError
from fusion_engine.events import (
    AnalysisReady,
    Done,
    FusionEvent,
    FusionStarted,
    JudgeStarted,
    MemberFinished,
    MemberStarted,
    PanelDone,
    WriterDelta,
    WriterStarted,
)
from fusion_engine.jobs.base import FusionJob
from fusion_engine.llm.base import ChatMessage, ChatRequest, Completion, ModelPrice, Usage
from fusion_engine.llm.function import FunctionModelClient, StaticPrices
from fusion_engine.pipeline.panel import Caller
from fusion_engine.pools import PoolSpec
from fusion_engine.request import FusionRequest
from fusion_engine.result import (
    Analysis,
    FusionResult,
    PanelAnswer,
    StageCall,
    StageLatency,
)
from fusion_engine.scripted import ScriptedEngine

PANEL = ("m/alpha", "m/beta", "m/gamma")
POOL = PoolSpec(name="main", models=PANEL, judge="m/judge", writer="m/writer", quorum=2)
PRICE = ModelPrice(prompt_per_mtok=1_000_000, completion_per_mtok=2_000_000)
PRICES = StaticPrices({m: PRICE for m in (*PANEL, "m/judge", "m/writer")})
QUOTE_PER_CALL = 50_000

Gate = Callable[[], Awaitable[None]]


def request(question: str = "Why is the sky blue?", **kw: object) -> FusionRequest:
    return FusionRequest.create(question, POOL, **kw)


class FakeEngine(ScriptedEngine):
    """A ``ScriptedEngine`` whose script asks ``FunctionModelClient`` for every answer, so runs
    have real costs (charged to the guard as their events pass) and can fail or wait at a
    gate at known points."""

    def __init__(
        self,
        *,
        gate: Gate | None = None,
        fail_after_panel: FusionError | None = None,
        fail_in_writer: FusionError | None = None,
        quote_micros: int | None = None,
        delay_s: float = 0.0,
    ) -> None:
        async def answer(r: ChatRequest) -> str:
            if delay_s:
                await asyncio.sleep(delay_s)  # a model's latency, so a crash can land mid-call
            return f"{r.model} says: Rayleigh scattering."

        def quote(request: FusionRequest) -> int:
            calls = len(request.pool.models) + 2
            return quote_micros if quote_micros is not None else calls * QUOTE_PER_CALL

        super().__init__(self._fusion, quote=quote)
        self.client = FunctionModelClient(answer, prices=PRICES)
        self.caller = Caller(self.client, PRICES, time.monotonic)
        self.gate = gate
        self.fail_after_panel = fail_after_panel
        self.fail_in_writer = fail_in_writer
        self.completions: list[Completion] = []

    async def _ask(self, model: str, text: str) -> tuple[str, Usage, float]:
        done, _ = await self.caller.call(
            ChatRequest(
                model=model, messages=(ChatMessage(role="user", content=text),), max_tokens=100
            )
        )
        self.completions.append(done)
        return done.text, done.usage, done.latency_s

    async def _fusion(self, request: FusionRequest) -> AsyncIterator[FusionEvent]:
        pool = request.pool
        yield FusionStarted(
            request_id=request.request_id, models=pool.models, judge=pool.judge, writer=pool.writer
        )
        answers = []
        for model in pool.models:
            yield MemberStarted(model=model)
            text, usage, latency = await self._ask(model, request.question)
            answer = PanelAnswer(
                model=model, served_by=model, text=text, latency_s=latency, usage=usage
            )
            answers.append(answer)
            yield MemberFinished(answer=answer)
        yield PanelDone(answered=len(answers), failed=0)
        if self.gate is not None:
            await self.gate()
        if self.fail_after_panel is not None:
            raise self.fail_after_panel
        yield JudgeStarted(model=pool.judge)
        _, judge_usage, judge_s = await self._ask(pool.judge, "compare")
        yield AnalysisReady(analysis=Analysis(consensus=("scattering",)), usage=judge_usage)
        yield WriterStarted(model=pool.writer)
        if self.fail_in_writer is not None:
            raise self.fail_in_writer
        text, writer_usage, writer_s = await self._ask(pool.writer, "fuse")
        yield WriterDelta(text=text)
        usage = judge_usage + writer_usage
        for a in answers:
            usage = usage + a.usage
        yield Done(
            result=FusionResult(
                request_id=request.request_id,
                question=request.question,
                pool=pool.name,
                answer=text,
                analysis=Analysis(consensus=("scattering",)),
                panel=tuple(answers),
                judge=StageCall(
                    model=pool.judge, served_by=pool.judge, latency_s=judge_s, usage=judge_usage
                ),
                writer=StageCall(
                    model=pool.writer, served_by=pool.writer, latency_s=writer_s, usage=writer_usage
                ),
                latency=StageLatency(
                    panel_s=0.01, judge_s=judge_s, writer_s=writer_s, total_s=0.02
                ),
                usage=usage,
                degraded=False,
            )
        )


@dataclass
class RecordingResponder:
    events: list[tuple[str, str]] = field(default_factory=list)
    results: list[tuple[str, FusionResult, BudgetStatus | None]] = field(default_factory=list)
    errors: list[tuple[str, FusionError]] = field(default_factory=list)
    fail_results: int = 0
    """Raise on this many ``on_result`` calls first (a crash while delivering)."""
    fail_events: bool = False
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    """Set whenever a result or an error is delivered."""

    async def on_event(self, job: FusionJob, event: FusionEvent) -> None:
        if self.fail_events:
            raise RuntimeError("chat API hiccup")
        self.events.append((job.key, event.type))

    async def on_result(
        self, job: FusionJob, result: FusionResult, budget: BudgetStatus | None
    ) -> None:
        if self.fail_results:
            self.fail_results -= 1
            raise ConnectionError("crashed while posting")
        self.results.append((job.key, result, budget))
        self.finished.set()

    async def on_error(self, job: FusionJob, error: FusionError) -> None:
        self.errors.append((job.key, error))
        self.finished.set()


def quorum_error() -> QuorumError:
    return QuorumError(1, 2, {"m/beta": "timed out"})
