"""``consume``: the one loop over an engine's events, and the consumers that share it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from fusion_engine.budget.memory import MemoryBudgetStore
from fusion_engine.errors import IncompleteRunError, StageError, UnavailableError
from fusion_engine.events import FusionEvent, MemberFinished
from fusion_engine.jobs.base import FusionJob, ReplyTarget
from fusion_engine.jobs.ledger import MemoryJobLedger
from fusion_engine.jobs.worker import Worker
from fusion_engine.port import SpendMeter, consume
from fusion_engine.scripted import ScriptedEngine
from fusion_engine.service import run_charged
from tests.bots.samples import sample_events, sample_result
from tests.fusion_engine.jobs.fakes import RecordingResponder, request

RESULT = sample_result()
EVENTS = sample_events(RESULT)
PANEL = sum(a.usage.cost_micros for a in RESULT.answers)  # the only costed events before Done
BEFORE_DONE = EVENTS[:-1]


async def stream(*events: FusionEvent | BaseException) -> AsyncIterator[FusionEvent]:
    for event in events:
        if isinstance(event, BaseException):
            raise event
        yield event


class Tracked:
    """The sample events as a stream (or an async script) that records being closed."""

    def __init__(self) -> None:
        self.closed = False

    async def play(self, _request: object = None) -> AsyncIterator[FusionEvent]:
        try:
            for event in EVENTS:
                yield event
        finally:
            self.closed = True


async def test_returns_dones_result_passing_every_event_and_each_change_of_spend() -> None:
    seen: list[FusionEvent] = []
    spent: list[int] = []

    async def on_event(event: FusionEvent) -> None:
        seen.append(event)

    async def on_spend(micros: int) -> None:
        spent.append(micros)

    result = await consume(stream(*EVENTS), on_event=on_event, on_spend=on_spend)
    assert result == RESULT
    assert seen == EVENTS
    assert spent == [1234, 2468, RESULT.cost_micros]


async def test_a_stream_that_ends_without_done_raises_and_keeps_its_spend() -> None:
    meter = SpendMeter()
    with pytest.raises(IncompleteRunError, match="ended without an answer"):
        await consume(stream(*BEFORE_DONE), meter=meter)
    assert meter.micros == PANEL


async def test_a_failed_stage_adds_what_it_billed_exactly() -> None:
    meter = SpendMeter()
    spent: list[int] = []

    async def on_spend(micros: int) -> None:
        spent.append(micros)

    failure = StageError("the writer failed", spent_micros=4_321)
    with pytest.raises(StageError) as caught:
        await consume(stream(*BEFORE_DONE, failure), on_spend=on_spend, meter=meter)
    assert caught.value is failure
    assert meter.micros == PANEL + 4_321
    assert spent[-1] == PANEL + 4_321


async def test_cancelling_the_consumer_closes_the_stream() -> None:
    """Cancelled while a callback runs (the stream is parked at a ``yield``), not only while
    the stream itself waits: the stream is closed before ``consume`` returns."""
    reached, events = asyncio.Event(), Tracked()

    async def slow(event: FusionEvent) -> None:
        reached.set()
        await asyncio.Event().wait()  # a consumer stuck on a chat API

    task = asyncio.create_task(consume(events.play(), on_event=slow))
    await reached.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert events.closed


async def test_a_callback_error_closes_the_stream_and_propagates() -> None:
    events = Tracked()

    async def broken(event: FusionEvent) -> None:
        if isinstance(event, MemberFinished):
            raise LookupError("a bug in the consumer")

    with pytest.raises(LookupError):
        await consume(events.play(), on_event=broken)
    assert events.closed


async def test_run_charged_settles_a_stream_without_done_at_its_known_spend() -> None:
    budgets = MemoryBudgetStore()
    engine = ScriptedEngine(BEFORE_DONE, quote=50_000)
    with pytest.raises(IncompleteRunError):
        await run_charged(budgets, engine, request(), tenant="t")
    status = await budgets.status("t")
    assert (status.daily_spent_micros, status.held_micros) == (PANEL, 0)


async def test_the_worker_tells_the_user_and_charges_a_stream_without_done_exactly() -> None:
    budgets, responder = MemoryBudgetStore(), RecordingResponder()
    reply = ReplyTarget(platform="slack", tenant="t", channel_id="C1")
    job = FusionJob(key="Ev1", request=request(), reply=reply, quote_micros=50_000)
    await budgets.reserve("t", job.key, job.quote_micros, lease_s=60)
    worker = Worker(
        engine=ScriptedEngine(BEFORE_DONE), budgets=budgets, responders={"slack": responder}
    )
    await worker.run_job(job)
    [(_, error)] = responder.errors
    assert isinstance(error, IncompleteRunError)
    assert budgets.settled("t") == {"Ev1": PANEL}


async def test_a_ledger_failure_mid_run_goes_back_to_the_queue_not_to_the_user() -> None:
    """The worker's spend callback failing is not the fusion failing: the attempt raises (the
    queue retries it) and no error is delivered or saved as the job's outcome."""

    class DownLedger(MemoryJobLedger):
        async def record_spend(self, key: str, attempt: str, micros: int) -> None:
            raise UnavailableError("Redis is down")

    budgets, responder, ledger = MemoryBudgetStore(), RecordingResponder(), DownLedger()
    reply = ReplyTarget(platform="slack", tenant="t", channel_id="C1")
    job = FusionJob(key="Ev1", request=request(), reply=reply, quote_micros=50_000)
    worker = Worker(
        engine=ScriptedEngine(EVENTS),
        budgets=budgets,
        responders={"slack": responder},
        ledger=ledger,
    )
    with pytest.raises(UnavailableError):
        await worker.run_job(job)
    assert (responder.errors, responder.results, ledger.outcomes) == ([], [], {})
