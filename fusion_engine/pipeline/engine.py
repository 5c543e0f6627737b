"""``FusionEngine``: panel → judge → writer, as a stream of progress events ending in ``Done``.

The fusion itself runs in one task; ``run()`` relays its events as they happen. Publishing an
event never waits on the consumer, so a slow consumer cannot change the outcome, and the backlog
stays bounded: there are only a handful of events per panel member, and consecutive writer
deltas that the consumer has not taken yet are merged into one. Closing the stream early
(``aclose()``, ``break`` inside ``async with aclosing(...)``, or cancelling the consumer) cancels
the fusion task and with it every in-flight model call, and waits for them to finish.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable

from fusion_engine.allowance import UNLIMITED, SpendGuard
from fusion_engine.events import (
    AnalysisReady,
    Done,
    FusionEvent,
    FusionStarted,
    JudgeStarted,
    PanelDone,
    WriterDelta,
    WriterStarted,
)
from fusion_engine.llm.base import ModelClient, PriceSource, Usage
from fusion_engine.pipeline.judge import label_answers, run_judge
from fusion_engine.pipeline.panel import Caller, run_panel
from fusion_engine.pipeline.quote import quote_request
from fusion_engine.pipeline.writer import run_writer
from fusion_engine.port import consume
from fusion_engine.request import FusionRequest
from fusion_engine.result import FusionResult, PanelAnswer, PanelFailure, Quote, StageLatency

__all__ = ["FusionEngine"]


class _EventChannel:
    """Events from the fusion task to ``run()``: never blocks the producer; merges deltas."""

    def __init__(self) -> None:
        self._items: deque[FusionEvent | list[str]] = deque()
        self._ready = asyncio.Event()

    def put(self, event: FusionEvent) -> None:
        if isinstance(event, WriterDelta):
            self.put_text(event.text)
        else:
            self._items.append(event)
            self._ready.set()

    def put_text(self, text: str) -> None:
        """A writer delta, kept as a bare string until the consumer takes it (cheap per delta)."""
        last = self._items[-1] if self._items else None
        if isinstance(last, list):
            last.append(text)
        else:
            self._items.append([text])
        self._ready.set()

    def wake(self) -> None:
        self._ready.set()

    async def wait(self) -> None:
        await self._ready.wait()

    def drain(self) -> list[FusionEvent]:
        self._ready.clear()
        items = [
            WriterDelta(text="".join(item)) if isinstance(item, list) else item
            for item in self._items
        ]
        self._items.clear()
        return items


class FusionEngine:
    """Runs fusions against one ``ModelClient`` (already wrapped with retries by the wiring).

    One engine serves any number of concurrent fusions; it holds no per-fusion state.
    ``clock`` measures latencies; ``rng`` shuffles the answers for the judge (inject a seeded
    one in tests).
    """

    def __init__(
        self,
        client: ModelClient,
        prices: PriceSource,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._client = client
        self._prices = prices
        self._clock = clock
        self._rng = rng or random.Random()

    async def quote(self, request: FusionRequest) -> Quote:
        """A conservative upper bound on this fusion's cost (see ``pipeline.quote``)."""
        return await quote_request(request, self._prices)

    async def run(
        self, request: FusionRequest, guard: SpendGuard = UNLIMITED
    ) -> AsyncGenerator[FusionEvent, None]:
        """Run one fusion, yielding its progress events in order and ``Done(result)`` last.

        Every model call is first covered by ``guard`` (``fusion_engine.allowance``); a call it
        refuses fails like a model failure. Raises ``QuorumError`` or another ``FusionError``
        when the fusion fails.
        """
        channel = _EventChannel()
        task = asyncio.create_task(self._fuse(request, channel, guard), name="fusion")
        task.add_done_callback(lambda _: channel.wake())
        try:
            while True:
                finished = task.done()
                for event in channel.drain():
                    yield event
                if finished:
                    break
                await channel.wait()
            yield Done(result=task.result())
        finally:
            if not task.done():
                task.cancel()
                await asyncio.wait({task})
            elif not task.cancelled():
                task.exception()  # retrieved, so an abandoned failure is not logged as lost

    async def fuse(
        self,
        request: FusionRequest,
        on_event: Callable[[FusionEvent], Awaitable[None]] | None = None,
        *,
        guard: SpendGuard = UNLIMITED,
    ) -> FusionResult:
        """Run one fusion to the end and return its result, passing each event to ``on_event``."""
        return await consume(self.run(request, guard), on_event=on_event)

    async def _fuse(
        self, request: FusionRequest, channel: _EventChannel, guard: SpendGuard
    ) -> FusionResult:
        pool = request.pool
        emit = channel.put
        clock = self._clock
        caller = Caller(client=self._client, prices=self._prices, clock=clock, guard=guard)
        started = clock()
        emit(
            FusionStarted(
                request_id=request.request_id,
                models=pool.models,
                judge=pool.judge,
                writer=pool.writer,
            )
        )
        panel = await run_panel(caller, request, emit)
        answers = [m for m in panel if isinstance(m, PanelAnswer)]
        failures = [m for m in panel if isinstance(m, PanelFailure)]
        emit(PanelDone(answered=len(answers), failed=len(failures)))
        panel_done = clock()

        emit(JudgeStarted(model=pool.judge))
        labelled = label_answers(answers, self._rng)
        judged = await run_judge(caller, request, labelled)
        emit(AnalysisReady(analysis=judged.analysis, note=judged.note, usage=judged.usage))
        judge_done = clock()

        emit(WriterStarted(model=pool.writer))
        first_token_at: float | None = None

        async def on_text(text: str) -> None:
            nonlocal first_token_at
            if first_token_at is None:
                first_token_at = clock()
            channel.put_text(text)

        written = await run_writer(caller, request, labelled, judged.analysis, on_text)
        finished = clock()

        usage = sum((m.usage for m in panel), Usage()) + judged.usage + written.usage
        reasons = (
            *(f"{f.model}: {f.reason}" for f in failures),
            *judged.degraded_reasons,
            *written.degraded_reasons,
        )
        return FusionResult(
            request_id=request.request_id,
            question=request.question,
            pool=pool.name,
            answer=written.text,
            analysis=judged.analysis,
            analysis_note=judged.note,
            panel=panel,
            judge=judged.call,
            writer=written.call,
            latency=StageLatency(
                panel_s=panel_done - started,
                judge_s=judge_done - panel_done,
                writer_s=finished - judge_done,
                total_s=finished - started,
                first_token_s=None if first_token_at is None else first_token_at - started,
            ),
            usage=usage,
            degraded=bool(reasons),
            degraded_reasons=reasons,
        )
