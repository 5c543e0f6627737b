"""The saq queue on a real Redis: keys dedupe, jobs run once, SIGTERM hands jobs back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from saq.job import Status

from bots.embedded_redis import EmbeddedRedis
from fusion_engine.budget.redis_store import RedisBudgetStore
from fusion_engine.jobs.base import FusionJob, ReplyTarget
from fusion_engine.jobs.saq_queue import SaqJobQueue
from fusion_engine.jobs.worker import GAVE_UP_MESSAGE, Worker
from fusion_engine.redis_guard import connect_redis
from tests.fusion_engine.jobs.fakes import FakeEngine, RecordingResponder, request

REPLY = ReplyTarget(platform="discord", tenant="G1", channel_id="C1", user_id="U1")


def job(key: str) -> FusionJob:
    return FusionJob(key=key, request=request(), reply=REPLY, quote_micros=250_000)


@pytest.fixture
async def parts(
    redis_server: EmbeddedRedis,
) -> AsyncIterator[Callable[[], SaqJobQueue]]:
    """Builds queues that each own a client (as separate processes would)."""
    shared = connect_redis(redis_server.url)
    await shared.flushdb()
    made: list[SaqJobQueue] = []

    def make() -> SaqJobQueue:
        queue = SaqJobQueue(connect_redis(redis_server.url), retry_delay_s=0.0)
        made.append(queue)
        return queue

    yield make
    for queue in made:
        await queue.aclose()
    await shared.aclose()


def budgets_for(redis_server: EmbeddedRedis) -> RedisBudgetStore:
    return RedisBudgetStore(
        connect_redis(redis_server.url),
        default_daily_micros=5_000_000,
        default_monthly_micros=50_000_000,
    )


async def test_duplicate_keys_run_once(
    parts: Callable[[], SaqJobQueue], redis_server: EmbeddedRedis
) -> None:
    queue = parts()
    await queue.connect()
    accepted = await asyncio.gather(*(queue.enqueue(job("Ev1")) for _ in range(5)))
    assert sorted(accepted) == [False, False, False, False, True]
    assert await queue.seen("Ev1")
    budgets, responder = budgets_for(redis_server), RecordingResponder()
    worker = Worker(
        engine=FakeEngine(), budgets=budgets, responders={"discord": responder},
        redis=connect_redis(redis_server.url),
    )  # fmt: skip
    saq_worker = queue.worker(worker, concurrency=2)
    running = asyncio.create_task(saq_worker.start())
    await responder.finished.wait()
    assert await queue.enqueue(job("Ev1")) is False  # finished, still inside the dedupe window
    await saq_worker.stop()
    await running
    assert len(responder.results) == 1
    status = await budgets.status("G1")
    assert status.daily_spent_micros == responder.results[0][1].cost_micros
    assert status.held_micros == 0


async def test_shutdown_hands_a_running_job_back_to_another_worker(
    parts: Callable[[], SaqJobQueue], redis_server: EmbeddedRedis
) -> None:
    reached, never = asyncio.Event(), asyncio.Event()

    async def gate() -> None:
        reached.set()
        await never.wait()

    budgets, responder = budgets_for(redis_server), RecordingResponder()
    first_queue, second_queue = parts(), parts()
    await first_queue.connect()
    await second_queue.connect()

    def worker(engine: FakeEngine) -> Worker:
        return Worker(
            engine=engine, budgets=budgets, responders={"discord": responder},
            redis=connect_redis(redis_server.url),
        )  # fmt: skip

    first = first_queue.worker(worker(FakeEngine(gate=gate)), shutdown_grace_s=0)
    first_running = asyncio.create_task(first.start())
    assert await first_queue.enqueue(job("Ev9"))
    await reached.wait()
    await first.stop()  # as on SIGTERM with the grace window spent: cancel and hand back
    await first_running
    assert responder.results == []
    second = second_queue.worker(worker(FakeEngine()))
    second_running = asyncio.create_task(second.start())
    await responder.finished.wait()
    await second.stop()
    await second_running
    [(_, result, _)] = responder.results
    panel = sum(a.usage.cost_micros for a in result.answers)
    status = await budgets.status("G1")
    assert status.daily_spent_micros == result.cost_micros + panel  # both attempts, once
    assert status.held_micros == 0


async def test_after_the_last_attempt_the_user_is_told_and_charged_once(
    parts: Callable[[], SaqJobQueue], redis_server: EmbeddedRedis
) -> None:
    budgets = budgets_for(redis_server)
    responder = RecordingResponder(fail_results=99)  # the chat keeps failing
    queue = SaqJobQueue(connect_redis(redis_server.url), retries=2, retry_delay_s=0.0)
    await queue.connect()
    engine = FakeEngine()
    worker = Worker(
        engine=engine, budgets=budgets, responders={"discord": responder},
        redis=connect_redis(redis_server.url),
    )  # fmt: skip
    runner = queue.worker(worker)
    running = asyncio.create_task(runner.start())
    assert await queue.enqueue(job("Ev-doomed"))
    await responder.finished.wait()
    await runner.stop()
    await running
    await queue.aclose()
    [(key, error)] = responder.errors
    assert key == "Ev-doomed"
    assert error.user_message == GAVE_UP_MESSAGE
    assert len(engine.completions) == 5  # one real run; the retry re-delivered its outcome
    status = await budgets.status("G1")
    assert status.daily_spent_micros == sum(c.usage.cost_micros for c in engine.completions)
    assert status.held_micros == 0


async def test_a_job_just_dequeued_is_not_swept_on_first_sight(
    parts: Callable[[], SaqJobQueue], redis_server: EmbeddedRedis
) -> None:
    """saq moves a job to the active list, then marks it active: a sweep in between must not
    abort it. Only a job still unmarked on a second sweep is treated as stuck."""
    queue = parts()
    await queue.connect()
    assert await queue.enqueue(job("Ev-race"))
    saq_queue = queue.queues["discord"]
    dequeued = await saq_queue.dequeue(timeout=1)  # moved to active, status still "queued"
    assert dequeued is not None
    sweep_lock = "saq:fusion:discord:sweep"
    assert await saq_queue.sweep(lock=60, abort=0.1) == []
    await saq_queue.redis.delete(sweep_lock)
    assert await saq_queue.sweep(lock=60, abort=0.1) == ["Ev-race"]


async def test_a_last_attempt_that_times_out_is_charged_and_reported(
    redis_server: EmbeddedRedis,
) -> None:
    """saq cancels a timed-out job (a ``CancelledError``, not an ``Exception``): on the last
    attempt the spend recorded so far is still settled and the user is told, once."""
    shared = connect_redis(redis_server.url)
    await shared.flushdb()
    await shared.aclose()
    never = asyncio.Event()

    async def hang() -> None:
        await never.wait()

    budgets, responder = budgets_for(redis_server), RecordingResponder()
    queue = SaqJobQueue(connect_redis(redis_server.url), timeout_s=1, retries=2, retry_delay_s=0.0)
    await queue.connect()
    engine = FakeEngine(gate=hang)
    worker = Worker(
        engine=engine, budgets=budgets, responders={"discord": responder},
        redis=connect_redis(redis_server.url),
    )  # fmt: skip
    runner = queue.worker(worker)
    running = asyncio.create_task(runner.start())
    assert await queue.enqueue(job("Ev-slow"))
    await responder.finished.wait()
    await runner.stop()
    await running
    await queue.aclose()
    [(key, error)] = responder.errors
    assert key == "Ev-slow"
    assert error.user_message == GAVE_UP_MESSAGE
    assert responder.results == []
    assert len(engine.completions) == 6  # the panel, twice
    status = await budgets.status("G1")
    assert status.daily_spent_micros == sum(c.usage.cost_micros for c in engine.completions)
    assert status.held_micros == 0
    assert await worker.ledger.is_done("Ev-slow")


async def test_the_sweeper_gives_up_on_a_stuck_last_attempt(
    parts: Callable[[], SaqJobQueue], redis_server: EmbeddedRedis
) -> None:
    """A stuck job on its last attempt (its worker died) is not retried by the sweeper: the
    sweeper settles its recorded spend and tells the user."""
    queue = parts()
    await queue.connect()
    budgets, responder = budgets_for(redis_server), RecordingResponder()
    worker = Worker(
        engine=FakeEngine(), budgets=budgets, responders={"discord": responder},
        redis=connect_redis(redis_server.url),
    )  # fmt: skip
    queue.worker(worker)  # wires the give-up hook; never started (the worker "died")
    doomed = job("Ev-stuck")
    await budgets.reserve("G1", doomed.key, doomed.quote_micros, lease_s=600)
    await worker.ledger.record_spend(doomed.key, "attempt-1", 70_000)
    saq_queue = queue.queues["discord"]
    await saq_queue.enqueue(
        "fusion", key=doomed.key, job=doomed.model_dump(mode="json"), retries=1, heartbeat=1
    )
    dequeued = await saq_queue.dequeue(timeout=1)
    assert dequeued is not None
    dequeued.attempts = 1
    await dequeued.update(status=Status.ACTIVE, touched=0)  # last touched long ago: stuck
    assert await saq_queue.sweep(lock=60, abort=0.1) == ["Ev-stuck"]
    [(key, error)] = responder.errors
    assert key == "Ev-stuck"
    assert error.user_message == GAVE_UP_MESSAGE
    status = await budgets.status("G1")
    assert status.daily_spent_micros == 70_000
    assert status.held_micros == 0


async def test_a_sweep_holds_its_lock_while_it_handles_stuck_jobs(
    parts: Callable[[], SaqJobQueue],
) -> None:
    """saq's sweep lock lasts one period, but each stuck job takes up to the abort wait; a
    second sweeper starting meanwhile, from the same stale list, must not retry the jobs the
    first has not reached yet (each would then run twice at once)."""
    first, second = parts(), parts()
    await first.connect()
    await second.connect()
    saq = first.queues["discord"]
    for key in ("Ev-stuck-1", "Ev-stuck-2"):
        stuck = job(key)
        await saq.enqueue(
            "fusion", key=stuck.key, job=stuck.model_dump(mode="json"), retries=3, heartbeat=1
        )
        dequeued = await saq.dequeue(timeout=1)
        assert dequeued is not None
        await dequeued.update(status=Status.ACTIVE, touched=0)  # its worker died long ago
    sweeping = asyncio.create_task(saq.sweep(lock=1, abort=1.5))  # 1.5 s per job: none stops
    await asyncio.sleep(1.2)  # the 1 s lock saq would have taken has lapsed by now
    assert await second.queues["discord"].sweep(lock=1, abort=0.1) == []
    assert await sweeping == ["Ev-stuck-1", "Ev-stuck-2"]
    assert (await saq.count("queued"), await saq.count("active")) == (2, 0)
