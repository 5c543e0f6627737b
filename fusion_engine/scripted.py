"""``ScriptedEngine``: the in-process fake of the engine port (``fusion_engine.port``).

It plays a script instead of calling models, so code above the port (the service, the worker,
the adapters, the CLI) can be tested without a model or a server. The script is a list of
events, or a function from the request to its events (sync or async, so it can wait at a gate
or make ``FunctionModelClient`` calls); an exception in a list, or one the function raises, is
raised from the stream where it stands, as a failing fusion raises its ``FusionError``.

Like the real engine it honours the guard: before an event that carries a cost reaches the
consumer (a panel member's usage, the judge's, and at ``Done`` the rest of the result's cost),
that cost is reserved with ``guard`` and recorded as spent, so a budget hold grows, or refuses
with ``CallOverBudget``, which then ends the stream. (The real engine would instead fail that
member or stage; the fake keeps one rule.) For engine-level tests use ``FusionEngine`` over
``FunctionModelClient``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Iterable
from contextlib import aclosing

from fusion_engine.allowance import UNLIMITED, SpendGuard
from fusion_engine.events import (
    AnalysisReady,
    Done,
    FusionEvent,
    JudgeStarted,
    MemberFailed,
    MemberFinished,
)
from fusion_engine.port import SpendMeter
from fusion_engine.request import FusionRequest
from fusion_engine.result import Quote

__all__ = ["Script", "ScriptedEngine"]

Step = FusionEvent | BaseException
Script = Iterable[Step] | Callable[[FusionRequest], Iterable[Step] | AsyncIterable[Step]]
"""The events of every run, or a function from the request to the events of its run."""


class ScriptedEngine:
    """An ``EnginePort`` that plays ``script``. ``quote`` is the quote in micro-dollars, or a
    function of the request. ``requests`` records every run, ``quoted`` every quote; both
    attributes ``script`` and ``quote_micros`` may be swapped between runs. Closing the
    stream closes an async script too, as closing the real one cancels its calls."""

    def __init__(self, script: Script, *, quote: int | Callable[[FusionRequest], int] = 0) -> None:
        self.script = script
        self.quote_micros = quote
        self.requests: list[FusionRequest] = []
        self.quoted: list[FusionRequest] = []

    async def quote(self, request: FusionRequest) -> Quote:
        self.quoted.append(request)
        micros = self.quote_micros
        return Quote(micros=micros(request) if callable(micros) else micros)

    async def run(
        self, request: FusionRequest, guard: SpendGuard = UNLIMITED
    ) -> AsyncIterator[FusionEvent]:
        self.requests.append(request)
        meter = SpendMeter()
        judge = "judge"
        async with aclosing(self._steps(request)) as steps:
            async for step in steps:
                if isinstance(step, BaseException):
                    raise step
                if isinstance(step, JudgeStarted):
                    judge = step.model
                known = meter.micros
                meter.observe(step)
                if (cost := meter.micros - known) > 0:
                    await guard.reserve(_payer(step, judge), cost)
                    guard.release(cost, cost)
                yield step

    async def _steps(self, request: FusionRequest) -> AsyncGenerator[Step, None]:
        script = self.script
        steps = script(request) if callable(script) else script
        if isinstance(steps, AsyncIterable):
            try:
                async for step in steps:
                    yield step
            finally:
                aclose = getattr(steps, "aclose", None)
                if aclose is not None:
                    await aclose()
        else:
            for step in steps:
                yield step


def _payer(event: FusionEvent, judge: str) -> str:
    """The model a costed event's spend is reserved for (``CallOverBudget`` names it)."""
    if isinstance(event, Done):
        return event.result.writer.model
    if isinstance(event, AnalysisReady):
        return judge
    if isinstance(event, MemberFinished):
        return event.answer.model
    if isinstance(event, MemberFailed):
        return event.failure.model
    return "engine"
