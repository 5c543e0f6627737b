"""The ack path: refusals charge nothing, duplicates hold once, jobs run through to a charge."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from fusion_engine.budget.memory import MemoryBudgetStore
from fusion_engine.config import load_config
from fusion_engine.errors import (
    BudgetExceeded,
    QuorumError,
    RateLimited,
    StageError,
    UnavailableError,
)
from fusion_engine.events import FusionEvent
from fusion_engine.jobs.base import FusionJob, ReplyTarget
from fusion_engine.jobs.memory import MemoryJobQueue
from fusion_engine.jobs.worker import Worker
from fusion_engine.ratelimit import UserRateLimiter
from fusion_engine.service import FusionService, run_charged
from tests.fusion_engine.jobs.fakes import FakeEngine, RecordingResponder, quorum_error, request

REPLY = ReplyTarget(platform="slack", tenant="E1|T1", channel_id="C1", user_id="U1")


def make_service(
    engine: FakeEngine,
    budgets: MemoryBudgetStore,
    queue: object,
    *,
    limit: str = "100/minute",
) -> FusionService:
    return FusionService(
        config=load_config(),
        engine=engine,
        budgets=budgets,
        queue=queue,  # type: ignore[arg-type]
        limiter=UserRateLimiter.in_memory(limit),
    )


async def test_submit_holds_the_quote_and_runs_the_job_to_one_charge() -> None:
    engine, budgets, responder = FakeEngine(), MemoryBudgetStore(), RecordingResponder()
    worker = Worker(engine=engine, budgets=budgets, responders={"slack": responder})
    queue = MemoryJobQueue(worker)
    service = make_service(engine, budgets, queue)
    accepted = await service.submit("Ev1", request(user="U1"), REPLY)
    assert accepted.duplicate is False
    assert accepted.quote.micros == 250_000
    assert accepted.budget.held_micros == 250_000
    assert accepted.job.quote_micros == 250_000
    await queue.join()
    [(_, result, status)] = responder.results
    assert budgets.settled(REPLY.tenant) == {"Ev1": result.cost_micros}
    assert status is not None
    assert status.held_micros == 0


async def test_a_retried_delivery_is_a_duplicate_and_holds_once() -> None:
    engine, budgets = FakeEngine(), MemoryBudgetStore()
    queue = MemoryJobQueue()
    service = make_service(engine, budgets, queue, limit="1/minute")
    await service.submit("Ev1", request(user="U1"), REPLY)
    again = await service.submit("Ev1", request(user="U1"), REPLY)
    assert again.duplicate is True
    assert (await service.budget(REPLY.tenant)).held_micros == 250_000
    assert list(queue.jobs) == ["Ev1"]


class _PlainQueue:
    """A queue with only ``enqueue`` (no ``seen``): dedupe falls to enqueue and reserve."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    async def enqueue(self, job: FusionJob) -> bool:
        if job.key in self.keys:
            return False
        self.keys.append(job.key)
        return True


async def test_duplicates_hold_once_with_a_queue_that_only_enqueues() -> None:
    budgets = MemoryBudgetStore()
    service = make_service(FakeEngine(), budgets, _PlainQueue())
    await service.submit("Ev1", request(), REPLY)
    again = await service.submit("Ev1", request(), REPLY)
    assert again.duplicate is True
    assert (await budgets.status(REPLY.tenant)).held_micros == 250_000


async def test_over_budget_is_refused_before_anything_runs() -> None:
    engine, budgets = (
        FakeEngine(quote_micros=2_000_000),
        MemoryBudgetStore(default_daily_micros=1_000_000),
    )
    queue = MemoryJobQueue()
    service = make_service(engine, budgets, queue)
    with pytest.raises(BudgetExceeded) as info:
        await service.submit("Ev1", request(), REPLY)
    assert info.value.quote_micros == 2_000_000
    assert "$1.00 left" in info.value.user_message
    assert queue.jobs == {}
    assert engine.client.calls == []
    status = await budgets.status(REPLY.tenant)
    assert status.held_micros == status.daily_spent_micros == 0


async def test_a_flood_from_one_user_is_refused_without_a_hold() -> None:
    engine, budgets, queue = FakeEngine(), MemoryBudgetStore(), MemoryJobQueue()
    service = make_service(engine, budgets, queue, limit="2/minute")
    await service.submit("Ev1", request(user="U1"), REPLY)
    await service.submit("Ev2", request(user="U1"), REPLY)
    before = REGISTRY.get_sample_value("fusion_failures_total", {"reason": "rate_limited"}) or 0
    with pytest.raises(RateLimited):
        await service.submit("Ev3", request(user="U1"), REPLY)
    after = REGISTRY.get_sample_value("fusion_failures_total", {"reason": "rate_limited"})
    assert after == before + 1
    assert list(queue.jobs) == ["Ev1", "Ev2"]
    assert (await budgets.status(REPLY.tenant)).held_micros == 500_000


class _BrokenQueue:
    async def enqueue(self, job: FusionJob) -> bool:
        raise UnavailableError("Fusion is temporarily unavailable; nothing was charged.")


async def test_a_failed_enqueue_releases_the_hold() -> None:
    budgets = MemoryBudgetStore()
    service = make_service(FakeEngine(), budgets, _BrokenQueue())
    with pytest.raises(UnavailableError):
        await service.submit("Ev1", request(), REPLY)
    assert (await budgets.status(REPLY.tenant)).held_micros == 0


async def test_set_limits_in_usd() -> None:
    service = make_service(FakeEngine(), MemoryBudgetStore(), MemoryJobQueue())
    status = await service.set_limits("acme", daily_usd=2.5, monthly_usd=20)
    assert (status.daily_limit_micros, status.monthly_limit_micros) == (2_500_000, 20_000_000)


async def test_run_charged_settles_the_real_cost() -> None:
    engine, budgets = FakeEngine(), MemoryBudgetStore()
    seen: list[str] = []

    async def on_event(event: FusionEvent) -> None:
        seen.append(event.type)

    result = await run_charged(budgets, engine, request(), tenant="cli-team", on_event=on_event)
    assert seen[-1] == "done"
    status = await budgets.status("cli-team")
    assert status.daily_spent_micros == result.cost_micros
    assert status.held_micros == 0


async def test_run_charged_refuses_over_budget_and_charges_partial_failures() -> None:
    budgets = MemoryBudgetStore(default_daily_micros=100_000)
    engine = FakeEngine()
    with pytest.raises(BudgetExceeded):
        await run_charged(budgets, engine, request(), tenant="t")
    assert engine.client.calls == []
    budgets = MemoryBudgetStore()
    failing = FakeEngine(fail_after_panel=quorum_error())
    with pytest.raises(QuorumError):
        await run_charged(budgets, failing, request(), tenant="t")
    panel = sum(c.usage.cost_micros for c in failing.completions)
    assert len(failing.completions) == 3
    assert (await budgets.status("t")).daily_spent_micros == panel


async def test_run_charged_charges_what_a_failed_writer_billed() -> None:
    budgets = MemoryBudgetStore()
    engine = FakeEngine(fail_in_writer=StageError("no writer", spent_micros=4_321))
    with pytest.raises(StageError):
        await run_charged(budgets, engine, request(), tenant="t")
    panel_and_judge = sum(c.usage.cost_micros for c in engine.completions)
    assert len(engine.completions) == 4
    assert (await budgets.status("t")).daily_spent_micros == panel_and_judge + 4_321
