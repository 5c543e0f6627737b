"""The ack path: refuse early, reserve the quote, and queue the job — in milliseconds.

Slack wants an acknowledgement within 3 s, so ``submit`` does only cheap, bounded work:
rate-limit the user, quote (prices are cached), reserve the quote against the tenant's budget
(one Lua call), enqueue (one Lua call). Anything slow happens in the worker.

Refusals (``InputError``, ``RateLimited``, ``BudgetExceeded``, ``UnavailableError``) charge
nothing: they happen before the reserve, or the reserve itself refused, or the hold is released
when enqueueing failed. A retried delivery of the same key (the platform's event id) is
recognised and returns ``duplicate=True`` without reserving or queueing again.

``run_charged`` is the same contract for a process that runs the fusion itself (``fusion ask
--tenant``): reserve, run (every call covered by the hold, which grows or refuses, as in the
worker), settle what was really spent even on failure or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from fusion_engine import metrics
from fusion_engine.allowance import Allowance
from fusion_engine.budget.base import BudgetStatus, BudgetStore
from fusion_engine.config import FusionConfig
from fusion_engine.errors import FusionError
from fusion_engine.jobs.base import FusionJob, JobQueue, ReplyTarget
from fusion_engine.money import limit_to_micros
from fusion_engine.port import EnginePort, OnEvent, SpendMeter, consume
from fusion_engine.ratelimit import UserRateLimiter
from fusion_engine.request import FusionRequest
from fusion_engine.result import FusionResult, Quote

__all__ = [
    "DEFAULT_HOLD_LEASE_S",
    "Accepted",
    "FusionService",
    "KeyedJobQueue",
    "run_charged",
]

DEFAULT_HOLD_LEASE_S = 900.0
"""A submitted job's hold lives this long before a worker starts it (queue wait + run); a
worker then renews it while running. If nothing ever runs the job, the hold frees itself."""


@runtime_checkable
class KeyedJobQueue(JobQueue, Protocol):
    """A queue that can say whether a key was already accepted, before any work is done."""

    async def seen(self, key: str) -> bool: ...


class Accepted(BaseModel):
    """A queued (or already queued) job, its quote, and the budget after the hold."""

    model_config = ConfigDict(frozen=True)

    job: FusionJob
    quote: Quote
    duplicate: bool
    budget: BudgetStatus


class FusionService:
    def __init__(
        self,
        *,
        config: FusionConfig,
        engine: EnginePort,
        budgets: BudgetStore,
        queue: JobQueue,
        limiter: UserRateLimiter,
        lease_s: float = DEFAULT_HOLD_LEASE_S,
    ) -> None:
        self.config = config
        self._engine = engine
        self._budgets = budgets
        self._queue = queue
        self._limiter = limiter
        self._lease_s = lease_s

    async def submit(self, key: str, request: FusionRequest, reply: ReplyTarget) -> Accepted:
        """Refuse, or hold the quote and queue the job. See the module docstring."""
        started = time.perf_counter()
        try:
            return await self._submit(key, request, reply)
        except FusionError as exc:
            metrics.FAILURES.labels(metrics.failure_reason(exc)).inc()
            raise
        finally:
            metrics.SUBMIT_SECONDS.observe(time.perf_counter() - started)

    async def _submit(self, key: str, request: FusionRequest, reply: ReplyTarget) -> Accepted:
        tenant = reply.tenant
        if isinstance(self._queue, KeyedJobQueue) and await self._queue.seen(key):
            return await self._duplicate(key, request, reply)
        await self._limiter.hit(request.user or reply.user_id)
        quote = await self._engine.quote(request)
        budget = await self._budgets.reserve(tenant, key, quote.micros, lease_s=self._lease_s)
        job = FusionJob(key=key, request=request, reply=reply, quote_micros=quote.micros)
        try:
            queued = await self._queue.enqueue(job)
        except BaseException:
            # Not queued: let the hold lapse now rather than at the end of its lease.
            with contextlib.suppress(FusionError):
                await self._budgets.extend(tenant, key, lease_s=0)
            raise
        return Accepted(job=job, quote=quote, duplicate=not queued, budget=budget)

    async def _duplicate(self, key: str, request: FusionRequest, reply: ReplyTarget) -> Accepted:
        quote = await self._engine.quote(request)
        job = FusionJob(key=key, request=request, reply=reply, quote_micros=quote.micros)
        budget = await self._budgets.status(reply.tenant)
        return Accepted(job=job, quote=quote, duplicate=True, budget=budget)

    async def budget(self, tenant: str) -> BudgetStatus:
        return await self._budgets.status(tenant)

    async def set_limits(
        self, tenant: str, *, daily_usd: float, monthly_usd: float
    ) -> BudgetStatus:
        await self._budgets.set_limits(
            tenant,
            daily_micros=limit_to_micros(daily_usd),
            monthly_micros=limit_to_micros(monthly_usd),
        )
        return await self._budgets.status(tenant)


async def run_charged(
    budgets: BudgetStore,
    engine: EnginePort,
    request: FusionRequest,
    *,
    tenant: str,
    on_event: OnEvent | None = None,
    lease_s: float = DEFAULT_HOLD_LEASE_S,
) -> FusionResult:
    """Quote, reserve, run in this process and settle; ``BudgetExceeded`` before any call.

    Calls beyond the quote (retries, fallbacks) grow the same hold first, or are not made.
    What was really spent is settled however the run ends (error, cancellation, Ctrl-C)."""
    hold = f"run:{request.request_id}:{uuid.uuid4().hex[:8]}"
    quote = await engine.quote(request)
    guard = await Allowance.held(budgets, tenant, hold, quote.micros, lease_s=lease_s)
    meter = SpendMeter()
    try:
        return await consume(engine.run(request, guard), on_event=on_event, meter=meter)
    finally:
        await budgets.settle(tenant, hold, meter.micros)
        metrics.SPEND_MICROS.inc(meter.micros)
