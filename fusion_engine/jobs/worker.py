"""The worker: runs one ``FusionJob`` to exactly one answer and exactly one charge.

Delivery is at least once (a killed worker's job is swept and re-queued), so ``run_job`` may
be called again for a job that already ran, partly or wholly. The ledger (``jobs/ledger.py``)
and the budget store's idempotent settle make every effect happen once. One attempt:

1. ``done`` marker set → return (a re-delivery after everything happened).
2. Take the job's run lock (short TTL, renewed; wait up to one TTL for a dead holder's lock
   to lapse) or raise ``JobBusy`` so the queue retries later: two live attempts never race.
   Then check ``done`` again: the holder we waited for may have finished the job.
3. Reserve, under the job key, what earlier attempts spent plus the quote: a lease renewal
   while the hold from submit is live and nothing was spent yet, a grown hold after a crashed
   attempt spent some, a fresh hold (checked against the limits) if it lapsed while the job
   waited. Every model call then reserves its worst case within that hold, growing it when
   needed (``fusion_engine.allowance``), so the job's whole charge stays within one hold.
4. If an outcome was saved, re-deliver it; else run the engine, streaming events to the
   responder, recording this attempt's known spend after every panel member and at the end.
5. Save the outcome; settle the sum of every attempt's spend; deliver; mark ``done``.

While it runs, a keep-alive renews the lock, extends the hold's lease and calls the queue's
heartbeat, so a live job is never swept and its hold never lapses however long it runs.

Crash cases (the worker process dies at…):

- after reserve, before run: nothing was spent or delivered. The hold lapses with its lease;
  the re-run reserves again and runs.
- during the run: the heartbeat stops, the sweeper re-queues the job (or, if the sweeping
  worker dies too, the job's pending lease lapses and a reaper re-queues it: ``pending.py``),
  another worker runs it again and re-calls the models. That cost is real: each attempt
  recorded what it had spent (panel answers as they finished), and settle charges the sum, so
  nothing known is lost and the job key is still charged once. The re-run first grows the hold
  by what was spent, so the sum stays within the limits; if the budget refuses, the user is
  told and charged only the earlier spend. (A call in flight at the moment of death is not
  counted: its cost was never reported to us.)
- after the run, before settle: the outcome is saved, so the re-run settles and delivers it
  without calling any model again.
- after settle, before delivering: settle is idempotent (False the second time); the re-run
  delivers the saved outcome. Charged once, answered once.
- after delivering, before ``done``: the re-run delivers again. Responders must make that
  safe (update the placeholder in place); the window is one Redis round trip wide.
- after ``done``: nothing to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, PrivateAttr

from fusion_engine import metrics
from fusion_engine.allowance import Allowance
from fusion_engine.budget.base import BudgetStatus, BudgetStore
from fusion_engine.errors import FusionError, UnavailableError
from fusion_engine.events import Done, FusionEvent, MemberFailed
from fusion_engine.jobs.base import FusionJob, Responder
from fusion_engine.jobs.ledger import JobBusy, JobLedger, MemoryJobLedger, RedisJobLedger
from fusion_engine.logs import FieldLogger, get_logger
from fusion_engine.port import EnginePort, consume
from fusion_engine.result import FusionResult

__all__ = [
    "DEFAULT_WORKER_LEASE_S",
    "GAVE_UP_MESSAGE",
    "Heartbeat",
    "Worker",
]

DEFAULT_WORKER_LEASE_S = 120.0
"""A running job's hold lease, renewed every ``keepalive_s``; it lapses this long after a crash."""

Heartbeat = Callable[[], Awaitable[None]]

GAVE_UP_MESSAGE = (
    "Fusion could not finish this question after several attempts. You were charged only for "
    "model calls that were made. Please ask again in a few minutes."
)

log = get_logger(__name__)


class _Outcome(BaseModel):
    """A finished job as saved in the ledger: a result, or the error the user must see."""

    model_config = ConfigDict(frozen=True)

    result: FusionResult | None = None
    error_message: str | None = None
    error_reason: str | None = None
    _error: FusionError | None = PrivateAttr(default=None)

    def error(self) -> FusionError:
        """The original error on the first delivery; its message when re-delivered."""
        return self._error or FusionError(self.error_message or "The fusion failed.")


class Worker:
    """Runs jobs. ``redis`` holds the exactly-once ledger; ``None`` keeps it in memory."""

    def __init__(
        self,
        *,
        engine: EnginePort,
        budgets: BudgetStore,
        responders: Mapping[str, Responder],
        redis: aioredis.Redis | None = None,
        ledger: JobLedger | None = None,
        lease_s: float = DEFAULT_WORKER_LEASE_S,
        lock_ttl_s: float = 15.0,
        keepalive_s: float = 5.0,
    ) -> None:
        self._engine = engine
        self._budgets = budgets
        self._responders = dict(responders)
        self.ledger: JobLedger = ledger or (
            RedisJobLedger(redis) if redis is not None else MemoryJobLedger()
        )
        self._lease_s = lease_s
        self._lock_ttl_s = lock_ttl_s
        self._keepalive_s = keepalive_s

    @property
    def platforms(self) -> tuple[str, ...]:
        """The platforms this worker can answer (``ReplyTarget.platform`` values)."""
        return tuple(self._responders)

    def _responder(self, job: FusionJob) -> Responder:
        try:
            return self._responders[job.reply.platform]
        except KeyError:
            raise LookupError(f"no responder for platform {job.reply.platform!r}") from None

    async def run_job(self, job: FusionJob, *, heartbeat: Heartbeat | None = None) -> None:
        """Run ``job`` to one delivered outcome and one settle; safe to call again."""
        bound = log.bind(job=job.key, tenant=job.reply.tenant, platform=job.reply.platform)
        if await self.ledger.is_done(job.key):
            metrics.JOB_EVENTS.labels("skipped_done").inc()
            bound.info("job already done; skipping")
            return
        responder = self._responder(job)
        token = uuid.uuid4().hex
        if not await self._take_lock(job.key, token):
            metrics.JOB_EVENTS.labels("busy").inc()
            raise JobBusy(job.key)
        keepalive = asyncio.create_task(self._keep_alive(job, token, heartbeat, bound))
        try:
            if await self.ledger.is_done(job.key):  # the attempt we waited for finished it
                metrics.JOB_EVENTS.labels("skipped_done").inc()
                return
            saved = await self.ledger.outcome(job.key)
            if saved is not None:
                metrics.JOB_EVENTS.labels("redelivered").inc()
                bound.info("re-delivering a saved outcome")
                outcome = _Outcome.model_validate_json(saved)
            else:
                metrics.JOB_EVENTS.labels("started").inc()
                outcome = await self._attempt(job, token, responder, bound)
                await self.ledger.save_outcome(job.key, outcome.model_dump_json())
            charged = await self.ledger.spent(job.key)
            if await self._budgets.settle(job.reply.tenant, job.key, charged):
                metrics.SPEND_MICROS.inc(charged)
            status = await self._budgets.status(job.reply.tenant)
            await self._deliver(job, outcome, responder, status)
            await self.ledger.mark_done(job.key)
            bound.info("job done", charged_micros=charged, failed=outcome.result is None)
        finally:
            keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keepalive
            with contextlib.suppress(FusionError):
                await self.ledger.release(job.key, token)

    async def give_up(self, job: FusionJob, error: BaseException) -> None:
        """The queue will not retry ``job`` again: tell the user, charge what was spent.

        Takes the job's run lock first (waiting, like ``run_job``, for a dead holder's to
        lapse): if a live attempt still holds it, that attempt answers and this gives up on
        nothing. Best effort (Redis or the chat may be what keeps failing); never raises."""
        bound = log.bind(job=job.key, tenant=job.reply.tenant, platform=job.reply.platform)
        bound.error("giving up on a job", error=type(error).__name__)
        metrics.FAILURES.labels("gave_up").inc()
        token = uuid.uuid4().hex
        try:
            if not await self._take_lock(job.key, token):
                bound.warning("a live attempt holds the job; leaving it the answer")
                return
            try:
                if await self.ledger.is_done(job.key):
                    return
                spent = await self.ledger.spent(job.key)
                await self._budgets.settle(job.reply.tenant, job.key, spent)
                await self._responder(job).on_error(job, FusionError(GAVE_UP_MESSAGE))
                await self.ledger.mark_done(job.key)
            finally:
                await self.ledger.release(job.key, token)
        except Exception:
            bound.warning("could not report the failed job", exc_info=True)

    async def _take_lock(self, key: str, token: str) -> bool:
        """Take the run lock, waiting up to one lock TTL: a dead holder's lock lapses by then,
        while a live holder keeps renewing it (and then this attempt should go back to the
        queue rather than race it)."""
        deadline = time.monotonic() + self._lock_ttl_s
        while not await self.ledger.acquire(key, token, ttl_s=self._lock_ttl_s):
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(min(0.5, self._lock_ttl_s / 4))
        return True

    async def _attempt(
        self, job: FusionJob, attempt: str, responder: Responder, bound: FieldLogger
    ) -> _Outcome:
        """Reserve (again), run the engine, and return what the user should be told.

        The hold must cover the whole charge (every attempt's spend), so this attempt reserves
        what earlier attempts recorded plus a fresh quote under the job key (growing the live
        hold, or holding anew if it lapsed), and its calls grow that same hold when they need
        more. Refused: the user is told, and charged only what earlier attempts spent."""
        try:
            guard = await Allowance.held(
                self._budgets,
                job.reply.tenant,
                job.key,
                job.quote_micros,
                spent_before=await self.ledger.spent(job.key),
                lease_s=self._lease_s,
            )
        except UnavailableError:
            raise
        except FusionError as exc:  # the budget cannot cover this attempt
            return self._failed(exc, bound)
        started = time.monotonic()
        recording = False

        async def record(micros: int) -> None:
            nonlocal recording
            recording = True
            await self.ledger.record_spend(job.key, attempt, micros)
            recording = False

        async def progress(event: FusionEvent) -> None:
            if isinstance(event, Done):
                return
            if isinstance(event, MemberFailed):
                bound.warning(
                    "panel member failed",
                    model=event.failure.model,
                    reason=event.failure.error_kind,
                )
            await self._progress(job, event, responder, bound)

        try:
            result = await consume(
                self._engine.run(job.request, guard), on_event=progress, on_spend=record
            )
        except FusionError as exc:
            if recording:  # the ledger failed, not the fusion: the queue retries the job
                raise
            return self._failed(exc, bound)
        return self._succeeded(result, started, bound)

    def _failed(self, exc: FusionError, bound: FieldLogger) -> _Outcome:
        reason = metrics.failure_reason(exc)
        metrics.FUSIONS.labels("error").inc()
        metrics.FAILURES.labels(reason).inc()
        bound.warning("fusion failed", reason=reason, error=exc.user_message)
        outcome = _Outcome(error_message=exc.user_message, error_reason=reason)
        outcome._error = exc
        return outcome

    def _succeeded(self, result: FusionResult, started: float, bound: FieldLogger) -> _Outcome:
        metrics.FUSIONS.labels("degraded" if result.degraded else "ok").inc()
        bound.info(
            "fusion finished",
            writer=result.writer.served_by,
            judge=result.judge.served_by if result.judge else None,
            models=[a.served_by for a in result.answers],
            cost_micros=result.cost_micros,
            degraded=result.degraded,
        )
        for stage, seconds in (
            ("panel", result.latency.panel_s),
            ("judge", result.latency.judge_s),
            ("writer", result.latency.writer_s),
            ("total", time.monotonic() - started),
        ):
            metrics.STAGE_SECONDS.labels(stage).observe(seconds)
        return _Outcome(result=result)

    async def _progress(
        self, job: FusionJob, event: FusionEvent, responder: Responder, bound: FieldLogger
    ) -> None:
        """Progress is best effort: a chat API hiccup must not fail (and re-bill) the fusion."""
        try:
            await responder.on_event(job, event)
        except Exception:
            bound.warning("progress update failed", event_type=event.type, exc_info=True)

    async def _deliver(
        self, job: FusionJob, outcome: _Outcome, responder: Responder, status: BudgetStatus
    ) -> None:
        if outcome.result is not None:
            await responder.on_result(job, outcome.result, status)
        else:
            await responder.on_error(job, outcome.error())

    async def _keep_alive(
        self,
        job: FusionJob,
        token: str,
        heartbeat: Heartbeat | None,
        bound: FieldLogger,
    ) -> None:
        """Renew the lock, the hold's lease and the queue heartbeat until cancelled."""
        while True:
            await asyncio.sleep(self._keepalive_s)
            try:
                await self.ledger.renew(job.key, token, ttl_s=self._lock_ttl_s)
                await self._budgets.extend(job.reply.tenant, job.key, lease_s=self._lease_s)
                if heartbeat is not None:
                    await heartbeat()
            except Exception:  # a Redis blip: try again next beat; the job itself goes on
                bound.warning("keep-alive failed", exc_info=True)
