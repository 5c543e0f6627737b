"""The engine port: what everything that runs fusions needs of an engine, and the one loop that
reads its event stream.

``EnginePort`` is the seam: ``quote`` (an upper bound on a fusion's cost, for the budget hold)
and ``run`` (the fusion as a stream of progress events ending in ``Done``, every model call
covered by ``guard``). ``FusionEngine`` satisfies it; so does ``ScriptedEngine``, its fake
(``fusion_engine.scripted``). The service, the worker, the eval and the CLI depend on this
protocol only.

``consume`` is how they all read the stream, so every one of them agrees on three rules: the
result is ``Done``'s, and a stream that ends without ``Done`` raises ``IncompleteRunError``; the
known spend is metered from the events (``SpendMeter``), plus what a failed stage billed
(``StageError.spent_micros``), which no event carried; and the stream is closed however the
loop ends (an error, a callback's error, cancellation), which cancels the fusion's calls in
flight. Consumers differ only in what they do per event and per change of spend, which they
pass in as callbacks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

from fusion_engine.allowance import SpendGuard
from fusion_engine.errors import IncompleteRunError, StageError
from fusion_engine.events import AnalysisReady, Done, FusionEvent, MemberFailed, MemberFinished
from fusion_engine.request import FusionRequest
from fusion_engine.result import FusionResult, Quote

__all__ = ["EnginePort", "OnEvent", "OnSpend", "SpendMeter", "consume"]

OnEvent = Callable[[FusionEvent], Awaitable[None]]
"""Called with every event of the stream, ``Done`` included, in order."""

OnSpend = Callable[[int], Awaitable[None]]
"""Called with the fusion's known spend (micro-dollars, in total) each time it changes."""


class EnginePort(Protocol):
    """A fusion engine, as the service, the worker, the eval and the CLI use it."""

    async def quote(self, request: FusionRequest) -> Quote:
        """A conservative upper bound on the fusion's cost: what a budget hold must cover."""
        ...

    def run(self, request: FusionRequest, guard: SpendGuard) -> AsyncIterator[FusionEvent]:
        """The fusion's progress events, ``Done(result)`` last; a fusion that fails raises a
        ``FusionError`` instead. ``guard`` covers every model call (``UNLIMITED``: nobody pays)."""
        ...


class SpendMeter:
    """What a fusion is known to have spent so far, from its progress events."""

    def __init__(self) -> None:
        self.micros = 0
        self.final = False

    def observe(self, event: FusionEvent) -> bool:
        """Count ``event``'s cost; True when the known spend changed."""
        if isinstance(event, Done):
            self.micros, self.final = event.result.cost_micros, True
            return True
        if isinstance(event, MemberFinished):
            cost = event.answer.usage.cost_micros
        elif isinstance(event, MemberFailed):
            cost = event.failure.usage.cost_micros
        elif isinstance(event, AnalysisReady):
            cost = event.usage.cost_micros
        else:
            return False
        self.micros += cost
        return cost > 0


async def consume(
    events: AsyncIterator[FusionEvent],
    *,
    on_event: OnEvent | None = None,
    on_spend: OnSpend | None = None,
    meter: SpendMeter | None = None,
) -> FusionResult:
    """Read ``events`` to ``Done`` and return its result; see the module docstring.

    Per event, the spend is counted first (``on_spend`` if it changed), then ``on_event``.
    ``meter`` (pass your own to read the spend after a failure) ends holding everything known
    spent, a failed stage's ``spent_micros`` included. The stream's own ``FusionError``s, and
    the callbacks' errors, propagate unchanged."""
    meter = SpendMeter() if meter is None else meter
    try:
        while True:
            try:
                event = await anext(events)
            except StopAsyncIteration:
                break
            except StageError as exc:  # what the failed stage billed was in no event
                if exc.spent_micros:
                    meter.micros += exc.spent_micros
                    if on_spend is not None:
                        await on_spend(meter.micros)
                raise
            if meter.observe(event) and on_spend is not None:
                await on_spend(meter.micros)
            if on_event is not None:
                await on_event(event)
            if isinstance(event, Done):
                return event.result
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
    raise IncompleteRunError()
