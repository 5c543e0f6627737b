"""The worker's exactly-once rules, with the ledger in memory and on a real Redis."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
import redis.asyncio as aioredis

from fusion_engine.budget.memory import MemoryBudgetStore
from fusion_engine.budget.redis_store import RedisBudgetStore
from fusion_engine.errors import BudgetExceeded, QuorumError, StageError
from fusion_engine.jobs.base import FusionJob, ReplyTarget
from fusion_engine.jobs.ledger import JobBusy, JobLedger, MemoryJobLedger, RedisJobLedger
from fusion_engine.jobs.worker import Worker
from tests.fusion_engine.jobs.fakes import FakeEngine, RecordingResponder, quorum_error, request

REPLY = ReplyTarget(platform="slack", tenant="E1|T1", channel_id="C1", user_id="U1")


def make_job(key: str = "Ev1", quote: int = 250_000) -> FusionJob:
    return FusionJob(key=key, request=request(), reply=REPLY, quote_micros=quote)


@pytest.fixture(params=["memory", "redis"])
def ledger(request: pytest.FixtureRequest, redis_client: aioredis.Redis) -> JobLedger:
    """The ledger every worker of a test shares, as workers share Redis."""
    return RedisJobLedger(redis_client) if request.param == "redis" else MemoryJobLedger()


def make_worker(
    engine: FakeEngine,
    responder: RecordingResponder,
    budgets: MemoryBudgetStore,
    ledger: JobLedger | None,
    **kw: Any,
) -> Worker:
    return Worker(
        engine=engine, budgets=budgets, responders={"slack": responder}, ledger=ledger, **kw
    )


async def test_a_job_delivers_one_answer_and_charges_its_real_cost(
    ledger: JobLedger,
) -> None:
    engine, responder, budgets = FakeEngine(), RecordingResponder(), MemoryBudgetStore()
    worker = make_worker(engine, responder, budgets, ledger)
    job = make_job()
    await budgets.reserve(REPLY.tenant, job.key, job.quote_micros, lease_s=60)
    await worker.run_job(job)
    assert len(responder.results) == 1
    key, result, status = responder.results[0]
    assert key == "Ev1"
    assert result.cost_micros > 0
    assert budgets.settled(REPLY.tenant) == {"Ev1": result.cost_micros}
    assert status is not None
    assert status.daily_spent_micros == result.cost_micros
    assert status.held_micros == 0
    assert [t for _, t in responder.events][:2] == ["fusion_started", "member_started"]


async def test_a_finished_job_run_again_does_nothing(ledger: JobLedger) -> None:
    engine, responder, budgets = FakeEngine(), RecordingResponder(), MemoryBudgetStore()
    worker = make_worker(engine, responder, budgets, ledger)
    job = make_job()
    await worker.run_job(job)
    calls = len(engine.client.calls)
    await worker.run_job(job)
    assert len(responder.results) == 1
    assert len(engine.client.calls) == calls
    assert len(budgets.settled(REPLY.tenant)) == 1


async def test_a_fusion_error_is_told_and_partial_spend_charged(
    ledger: JobLedger,
) -> None:
    engine = FakeEngine(fail_after_panel=quorum_error())
    responder, budgets = RecordingResponder(), MemoryBudgetStore()
    await make_worker(engine, responder, budgets, ledger).run_job(make_job())
    assert responder.results == []
    [(_, error)] = responder.errors
    assert isinstance(error, QuorumError)
    charged = budgets.settled(REPLY.tenant)["Ev1"]
    assert len(engine.client.calls) == 3
    assert charged == sum(c.usage.cost_micros for c in engine.completions)  # the panel's answers


async def test_a_failed_writer_still_charges_the_judge_and_what_the_writer_billed(
    ledger: JobLedger,
) -> None:
    billed_by_failed_writers = 4_321
    engine = FakeEngine(
        fail_in_writer=StageError("no writer", spent_micros=billed_by_failed_writers)
    )
    responder, budgets = RecordingResponder(), MemoryBudgetStore()
    await make_worker(engine, responder, budgets, ledger).run_job(make_job())
    [(_, error)] = responder.errors
    assert isinstance(error, StageError)
    panel_and_judge = sum(c.usage.cost_micros for c in engine.completions)
    assert panel_and_judge > 0
    assert budgets.settled(REPLY.tenant)["Ev1"] == panel_and_judge + billed_by_failed_writers


async def test_crash_while_delivering_redelivers_without_asking_again(
    ledger: JobLedger,
) -> None:
    engine, budgets = FakeEngine(), MemoryBudgetStore()
    responder = RecordingResponder(fail_results=1)
    worker = make_worker(engine, responder, budgets, ledger)
    job = make_job()
    with pytest.raises(ConnectionError):
        await worker.run_job(job)
    calls = len(engine.client.calls)
    settled_first = budgets.settled(REPLY.tenant)
    await worker.run_job(job)
    assert len(engine.client.calls) == calls  # the saved outcome was re-delivered
    assert len(responder.results) == 1
    assert budgets.settled(REPLY.tenant) == settled_first  # charged once


async def test_an_attempt_killed_mid_run_is_charged_with_the_rerun(
    ledger: JobLedger,
) -> None:
    """First attempt dies after the panel; the re-run's charge includes the lost panel calls."""
    reached = asyncio.Event()
    never = asyncio.Event()

    async def gate() -> None:
        reached.set()
        await never.wait()

    budgets, responder = MemoryBudgetStore(), RecordingResponder()
    first = make_worker(FakeEngine(gate=gate), responder, budgets, ledger, lock_ttl_s=0.2)
    job = make_job()
    task = asyncio.create_task(first.run_job(job))
    await reached.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert responder.results == []
    second_engine = FakeEngine()
    await make_worker(second_engine, responder, budgets, ledger).run_job(job)
    [(_, result, _)] = responder.results
    panel_cost = sum(a.usage.cost_micros for a in result.answers)
    assert budgets.settled(REPLY.tenant) == {"Ev1": result.cost_micros + panel_cost}


async def test_a_second_live_attempt_is_told_to_retry_later(
    ledger: JobLedger,
) -> None:
    budgets, responder = MemoryBudgetStore(), RecordingResponder()
    worker = make_worker(FakeEngine(), responder, budgets, ledger, lock_ttl_s=0.2)
    assert await worker.ledger.acquire("Ev1", "someone-else", ttl_s=30)
    with pytest.raises(JobBusy):
        await worker.run_job(make_job())
    assert responder.results == []


async def test_progress_failures_do_not_fail_the_fusion() -> None:
    budgets, responder = MemoryBudgetStore(), RecordingResponder(fail_events=True)
    await make_worker(FakeEngine(), responder, budgets, None).run_job(make_job())
    assert len(responder.results) == 1


async def test_a_lapsed_hold_is_reserved_again_and_may_be_refused() -> None:
    budgets, responder = MemoryBudgetStore(default_daily_micros=300_000), RecordingResponder()
    await budgets.reserve(REPLY.tenant, "other", 200_000, lease_s=60)
    await make_worker(FakeEngine(), responder, budgets, None).run_job(make_job(quote=250_000))
    [(_, error)] = responder.errors
    assert "budget" in error.user_message
    assert budgets.settled(REPLY.tenant) == {"Ev1": 0}


async def test_keepalive_extends_the_hold_and_heartbeats() -> None:
    beats = 0
    reached, release = asyncio.Event(), asyncio.Event()

    async def heartbeat() -> None:
        nonlocal beats
        beats += 1
        if beats >= 3:
            release.set()

    async def gate() -> None:
        reached.set()
        await release.wait()

    budgets, responder = MemoryBudgetStore(), RecordingResponder()
    worker = make_worker(FakeEngine(gate=gate), responder, budgets, None, keepalive_s=0.01)
    await worker.run_job(make_job(), heartbeat=heartbeat)
    assert beats >= 3
    assert len(responder.results) == 1


async def crashed_job(
    redis_client: aioredis.Redis, limit: int, earlier: int
) -> tuple[FusionJob, RedisBudgetStore, RedisJobLedger]:
    """A job held at submit whose first attempt died after recording ``earlier`` spend."""
    budgets = RedisBudgetStore(
        redis_client, default_daily_micros=limit, default_monthly_micros=10 * limit
    )
    ledger = RedisJobLedger(redis_client)
    job = make_job(quote=250_000)
    await budgets.reserve(REPLY.tenant, job.key, job.quote_micros, lease_s=60)
    await ledger.record_spend(job.key, "dead-attempt", earlier)
    return job, budgets, ledger


async def test_a_rerun_that_the_budget_cannot_cover_is_refused_and_charged_the_earlier_spend(
    redis_client: aioredis.Redis,
) -> None:
    job, budgets, ledger = await crashed_job(redis_client, limit=300_000, earlier=60_000)
    engine, responder = FakeEngine(), RecordingResponder()
    worker = Worker(engine=engine, budgets=budgets, responders={"slack": responder}, ledger=ledger)
    await worker.run_job(job)
    [(_, error)] = responder.errors
    assert isinstance(error, BudgetExceeded)
    assert (error.quote_micros, error.remaining_micros) == (60_000, 50_000)
    assert "needs up to $0.0600 more" in error.user_message
    assert engine.client.calls == []
    status = await budgets.status(REPLY.tenant)
    assert (status.daily_spent_micros, status.held_micros) == (60_000, 0)


async def test_a_rerun_holds_the_earlier_spend_plus_its_quote(
    redis_client: aioredis.Redis,
) -> None:
    job, budgets, ledger = await crashed_job(redis_client, limit=310_000, earlier=60_000)
    held: list[int] = []

    async def gate() -> None:
        held.append((await budgets.status(REPLY.tenant)).held_micros)

    engine, responder = FakeEngine(gate=gate), RecordingResponder()
    worker = Worker(engine=engine, budgets=budgets, responders={"slack": responder}, ledger=ledger)
    await worker.run_job(job)
    [(_, result, _)] = responder.results
    assert held == [310_000]
    status = await budgets.status(REPLY.tenant)
    assert (status.daily_spent_micros, status.held_micros) == (60_000 + result.cost_micros, 0)


async def test_giving_up_leaves_the_job_to_a_live_attempt(ledger: JobLedger) -> None:
    """A give-up (sweeper, reaper, last attempt) never races a live attempt into a second
    reply: while another attempt holds the run lock, it tells and charges nothing."""
    budgets, responder = MemoryBudgetStore(), RecordingResponder()
    worker = make_worker(FakeEngine(), responder, budgets, ledger, lock_ttl_s=0.2)
    assert await worker.ledger.acquire("Ev1", "live-attempt", ttl_s=30)
    await worker.give_up(make_job(), TimeoutError("swept"))
    assert responder.errors == []
    assert budgets.settled(REPLY.tenant) == {}
    assert not await worker.ledger.is_done("Ev1")


class _WatchedLedger:
    """A ledger that says when a second attempt has tried (and failed) to take a run lock."""

    def __init__(self, inner: JobLedger) -> None:
        self.inner = inner
        self.tries = 0
        self.second_try = asyncio.Event()

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    async def acquire(self, key: str, token: str, *, ttl_s: float) -> bool:
        self.tries += 1
        taken = await self.inner.acquire(key, token, ttl_s=ttl_s)
        if self.tries >= 2:
            self.second_try.set()
        return taken


async def test_an_attempt_that_waited_for_the_lock_finds_the_job_done(ledger: JobLedger) -> None:
    """Two live attempts (a job the sweeper re-queued while its worker still ran it): the one
    that waited for the run lock must not deliver the saved outcome a second time."""
    reached, release = asyncio.Event(), asyncio.Event()

    async def gate() -> None:
        reached.set()
        await release.wait()

    budgets, responder = MemoryBudgetStore(), RecordingResponder()
    watched = _WatchedLedger(ledger)
    first = make_worker(
        FakeEngine(gate=gate), responder, budgets, cast(JobLedger, watched), lock_ttl_s=5
    )
    second = make_worker(FakeEngine(), responder, budgets, cast(JobLedger, watched), lock_ttl_s=5)
    job = make_job()
    running = asyncio.create_task(first.run_job(job))
    await reached.wait()
    waiting = asyncio.create_task(second.run_job(job))
    await watched.second_try.wait()  # past its ``done`` check, now waiting for the lock
    release.set()
    await asyncio.gather(running, waiting)
    assert len(responder.results) == 1
    assert len(budgets.settled(REPLY.tenant)) == 1
