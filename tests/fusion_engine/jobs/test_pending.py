"""The pending set and its reaper on a real Redis: no accepted job is ever referenced nowhere.

Crashes are simulated at the exact step they would interrupt (``pending.accept`` done, saq's
enqueue never called; saq's sweep aborted a job, its retry never came); ``test_crash.py`` does
the same with SIGKILLed worker processes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from saq.job import Status

from bots.embedded_redis import EmbeddedRedis
from fusion_engine.budget.redis_store import RedisBudgetStore
from fusion_engine.errors import BudgetExceeded, UnavailableError
from fusion_engine.jobs.base import FusionJob, ReplyTarget
from fusion_engine.jobs.saq_queue import SaqJobQueue
from fusion_engine.jobs.worker import GAVE_UP_MESSAGE, Worker
from fusion_engine.keys import JobKeys
from fusion_engine.redis_guard import connect_redis
from tests.fusion_engine.jobs.fakes import FakeEngine, RecordingResponder, request

REPLY = ReplyTarget(platform="discord", tenant="G1", channel_id="C1", user_id="U1")
QUOTE = 250_000


def job(key: str) -> FusionJob:
    return FusionJob(key=key, request=request(), reply=REPLY, quote_micros=QUOTE)


@pytest.fixture
async def budgets(redis_server: EmbeddedRedis) -> AsyncIterator[RedisBudgetStore]:
    redis = connect_redis(redis_server.url)
    await redis.flushdb()
    # One quote fits in the day, a second hold of 100_000 does not.
    yield RedisBudgetStore(redis, default_daily_micros=300_000, default_monthly_micros=50_000_000)
    await redis.aclose()


@pytest.fixture
async def lapsed(redis_server: EmbeddedRedis) -> AsyncIterator[SaqJobQueue]:
    """A queue whose pending leases lapse at once: every reap looks at every pending job."""
    queue = SaqJobQueue(connect_redis(redis_server.url), retry_delay_s=0.0, pending_lease_s=0)
    await queue._redis.flushdb()
    await queue.connect()
    yield queue
    await queue.aclose()


def worker_for(
    redis_server: EmbeddedRedis, budgets: RedisBudgetStore, responder: RecordingResponder
) -> Worker:
    return Worker(
        engine=FakeEngine(), budgets=budgets, responders={"discord": responder},
        redis=connect_redis(redis_server.url), lock_ttl_s=0.5,
    )  # fmt: skip


async def test_a_key_is_accepted_once_even_after_saq_forgot_it(
    lapsed: SaqJobQueue,
) -> None:
    """saq forgets a key once its job finishes; the ``accepted`` marker (set only if absent)
    keeps refusing a retried delivery for the whole dedupe window."""
    assert await lapsed.enqueue(job("Ev1"))
    saq = lapsed.queues["discord"]
    ran = await saq.dequeue(timeout=1)
    assert ran is not None
    await ran.finish(Status.COMPLETE)
    assert await saq.count("incomplete") == 0
    assert await lapsed.enqueue(job("Ev1")) is False
    assert await saq.count("queued") == 0
    ttl = await saq.redis.ttl(JobKeys("Ev1").accepted)
    assert 6 * 24 * 3600 < ttl <= 7 * 24 * 3600


async def test_an_enqueue_that_fails_is_forgotten(lapsed: SaqJobQueue) -> None:
    """So the platform's retried delivery can queue it."""

    async def broken(*args: object, **kwargs: object) -> None:
        raise ConnectionError("redis went away mid-enqueue")

    lapsed.queues["discord"].enqueue = broken  # type: ignore[method-assign]
    with pytest.raises(UnavailableError):
        await lapsed.enqueue(job("Ev1"))
    assert not await lapsed.seen("Ev1")
    assert await lapsed.pending.lease_left_s("Ev1") is None


async def test_the_reaper_requeues_what_saq_lost_and_only_that(
    lapsed: SaqJobQueue,
    redis_server: EmbeddedRedis,
    budgets: RedisBudgetStore,
) -> None:
    worker = worker_for(redis_server, budgets, RecordingResponder())
    saq = lapsed.queues["discord"]
    assert await lapsed.pending.accept(job("Ev-lost"))  # the enqueuer died before saq's enqueue
    assert await lapsed.enqueue(job("Ev-swept"))
    assert await lapsed.enqueue(job("Ev-waiting"))  # queued, waiting its turn
    swept = await saq.dequeue(timeout=1)
    assert swept is not None
    assert swept.key == "Ev-swept"
    await saq.abort(swept, error="swept", ttl=1)  # a sweep that died before its retry
    assert await saq.count("incomplete") == 1

    assert await lapsed.reap(worker) == ["Ev-lost"]  # the swept job's abort marker still lives
    assert await saq.count("queued") == 2
    await saq.redis.delete(swept.abort_id)  # as it expires a few seconds after the abort
    both = await asyncio.gather(lapsed.reap(worker), lapsed.reap(worker))  # two workers at once
    assert sorted(both) == [[], ["Ev-swept"]]
    assert await lapsed.reap(worker) == []  # all three are saq's again
    assert await saq.count("queued") == 3
    reaps = [(await lapsed.pending.get(k) or (None, -1))[1] for k in ("Ev-lost", "Ev-waiting")]
    assert reaps == [1, 0]


async def test_a_done_job_is_never_requeued(
    lapsed: SaqJobQueue, redis_server: EmbeddedRedis, budgets: RedisBudgetStore
) -> None:
    worker = worker_for(redis_server, budgets, RecordingResponder())
    assert await lapsed.pending.accept(job("Ev-done"))
    await worker.ledger.mark_done("Ev-done")
    assert await lapsed.pending.lease_left_s("Ev-done") is None
    assert await lapsed.pending.accept(job("Ev-old"))  # pending, but done before (an old key)
    await lapsed._redis.set(JobKeys("Ev-old").done, 1)
    assert await lapsed.reap(worker) == []
    assert await lapsed.pending.lease_left_s("Ev-old") is None
    assert await lapsed.queues["discord"].count("incomplete") == 0


async def test_a_job_lost_again_and_again_is_given_up_once(
    lapsed: SaqJobQueue, redis_server: EmbeddedRedis, budgets: RedisBudgetStore
) -> None:
    """After ``max_reaps`` re-queues a job is poison: settle what it spent, tell the user."""
    responder = RecordingResponder()
    worker = worker_for(redis_server, budgets, responder)
    doomed = job("Ev-poison")
    await budgets.reserve(REPLY.tenant, doomed.key, QUOTE, lease_s=600)
    await worker.ledger.record_spend(doomed.key, "attempt-1", 70_000)
    assert await lapsed.pending.accept(doomed)
    for _ in range(3):
        await lapsed.pending.reaped(doomed.key)
    assert await lapsed.reap(worker) == []
    await responder.finished.wait()
    [(key, error)] = responder.errors
    assert (key, error.user_message) == (doomed.key, GAVE_UP_MESSAGE)
    status = await budgets.status(REPLY.tenant)
    assert (status.daily_spent_micros, status.held_micros) == (70_000, 0)
    assert await worker.ledger.is_done(doomed.key)
    assert await lapsed.pending.lease_left_s(doomed.key) is None
    saq = lapsed.queues["discord"]
    assert (await saq.count("queued"), await saq.count("incomplete")) == (0, 1)  # parked
    assert await lapsed.reap(worker) == []
    assert len(responder.errors) == 1


@pytest.mark.timeout(30)
async def test_a_job_running_past_every_lease_keeps_them_all(
    redis_server: EmbeddedRedis, budgets: RedisBudgetStore
) -> None:
    """The keep-alive renews the hold (no other reserve fits while the job runs), beats saq's
    heartbeat (never swept, one attempt) and extends the pending lease (never lapses)."""
    queue = SaqJobQueue(
        connect_redis(redis_server.url), heartbeat_s=1, retry_delay_s=0.0, pending_lease_s=0.5
    )
    await queue.connect()
    seen: dict[str, object] = {}

    async def past_the_leases() -> None:
        # Time itself is the event here: the hold and pending leases (0.5 s) and saq's
        # heartbeat (1 s) would each have lapsed twice, and sweeps run every second.
        await asyncio.sleep(2.5)
        try:
            await budgets.reserve(REPLY.tenant, "someone-else", 100_000, lease_s=60)
            seen["other"] = "held"
        except BudgetExceeded:
            seen["other"] = "refused"
        seen["lease"] = await queue.pending.lease_left_s("Ev-long")

    engine, responder = FakeEngine(gate=past_the_leases), RecordingResponder()
    worker = Worker(
        engine=engine, budgets=budgets, responders={"discord": responder},
        redis=connect_redis(redis_server.url), lease_s=0.5, keepalive_s=0.1, lock_ttl_s=1.0,
    )  # fmt: skip
    runner = queue.worker(worker, sweep_s=1, reap_s=3600)  # no reaper to extend it for us
    running = asyncio.create_task(runner.start())
    assert await queue.enqueue(job("Ev-long"))
    await responder.finished.wait()
    await runner.stop()
    await running
    assert seen["other"] == "refused"
    lease = seen["lease"]
    assert isinstance(lease, float)
    assert lease > 0
    assert len(responder.results) == 1
    assert len(engine.completions) == 5  # one run
    finished = await queue.queues["discord"].job("Ev-long")
    assert finished is not None
    assert (finished.status, finished.attempts) == (Status.COMPLETE, 1)
    await queue.aclose()
