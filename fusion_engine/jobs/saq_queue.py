"""The Redis job queue, on saq, behind the ``JobQueue`` seam (one saq queue per platform).

Why saq: asyncio-native, Redis-backed, dedupes by job key, per-job timeouts, retries, a
heartbeat and a sweeper that re-queues the jobs of dead workers. Its defaults suit short
tasks (10 s timeout, one attempt, a sweep a minute); fusions run 15-90 s, so:

- ``timeout`` 360 s: the panel's hard deadline (120 s) + judge and writer calls (90 s each)
  + fallbacks and margin. Past it, saq cancels the attempt and retries it. A cancel is not an
  ``Exception``: on the last attempt (and for a stuck job the sweeper will not retry) the
  give-up runs in a task the cancel cannot reach, so the spend is settled and the user told.
- ``heartbeat`` 15 s: the worker touches the job every 5 s; a job untouched for 15 s belongs
  to a dead worker and the next sweep (every 5 s) re-queues it.
- ``retries`` 4 attempts, with a short backoff: a job survives several crashed workers. After
  the last failed attempt the user is told, and charged only what was really spent.
- finished jobs are kept ``ttl`` 1 h for inspection; the dedupe window is longer and ours:
  saq forgets a key once its job finishes, so ``enqueue`` first sets an ``accepted`` marker
  (set only if absent, 7 days). A retried delivery of a finished job is refused there, and
  the ledger's ``done`` marker stops anything that slips past.

No accepted job is ever referenced nowhere. saq's own recovery of a dead worker's job (abort,
wait, retry) passes through a window where saq holds it in no list, and a worker killed there
would strand it. So the ``accepted`` marker is written together with an entry in Fusion's
pending set (``pending.py``) leased for ``PENDING_LEASE_S`` (30 s), the keep-alive of the
attempt running it extends the lease, ``done`` removes it, and every worker process reaps
every ``reap_s`` (5 s): a job whose lease lapsed is offered to saq's ``enqueue`` again, which
saq refuses while it still holds the key. A job saq lost runs again at most about 40 s after
the last worker that touched it died (lease, reap period, saq's 5 s abort marker); after
``max_reaps`` (3) such losses it is given up. Why not one atomic Lua "sweep and re-queue"
instead: it would write saq's job records from our own script, copying saq's internals; the
lease needs only saq's public ``enqueue`` and covers every window, known or not.

SIGTERM: the saq worker stops taking jobs, gives running ones ``shutdown_grace_s`` (25 s:
Heroku kills 30 s after SIGTERM) and then cancels them; a cancelled job is handed back to the
queue (saq retries it) and another worker picks it up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, get_args

import redis.asyncio as aioredis
from saq import Job
from saq import Worker as SaqWorker
from saq.job import Status
from saq.queue.redis import RedisQueue
from saq.types import Context

from fusion_engine.errors import UnavailableError
from fusion_engine.jobs.base import FusionJob, ReplyTarget
from fusion_engine.jobs.pending import PendingJobs
from fusion_engine.jobs.worker import Worker
from fusion_engine.keys import DEDUPE_TTL_S, PENDING_LEASE_S, SAQ_QUEUE_NAME, JobKeys
from fusion_engine.logs import get_logger
from fusion_engine.redis_guard import REDIS_DOWN, redis_address, redis_unavailable

__all__ = ["JOB_FUNCTION", "PLATFORMS", "SaqJobQueue", "SaqJobRunner"]

JOB_FUNCTION = "fusion"
PLATFORMS = get_args(ReplyTarget.model_fields["platform"].annotation)

log = get_logger(__name__)
_saq_log = logging.getLogger("saq")
_REDIS_DOWN = (*REDIS_DOWN, OSError)

GIVE_UP_TIMEOUT_S = 20.0
"""How long a give-up (settle the spend, tell the user) may take once the job is cancelled."""

Abandoned = Callable[[Job], Coroutine[Any, Any, None]]
"""Called by the sweeper for a stuck job it will not retry (its worker may be dead)."""

_background: set[asyncio.Task[None]] = set()
"""Give-ups that outlive the cancelled job task (a strong reference keeps them alive)."""


def _spawn(work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    """Run ``work`` (bounded by ``GIVE_UP_TIMEOUT_S``) in a task of its own, which a cancel of
    the caller cannot reach."""
    task = asyncio.create_task(_bounded(work))
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task


async def _survive_cancel(work: Coroutine[Any, Any, None], *, wait_s: float) -> None:
    """Run ``work`` in its own task (``_spawn``), so a further cancel of the caller (saq cancels
    a timed-out job again when it does not stop within its hard deadline) cannot interrupt it;
    wait for it up to ``wait_s``. A cancel of the caller still propagates: only the waiting
    stops."""
    task = _spawn(work)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(task), wait_s)


async def _bounded(work: Coroutine[Any, Any, None]) -> None:
    try:
        await asyncio.wait_for(work, GIVE_UP_TIMEOUT_S)
    except TimeoutError:
        log.warning("giving up on a job took too long; abandoned")


class _RedisWatch:
    """Says once that Redis went away (which server, password masked) and once that it is back,
    however many dequeues and upkeep loops notice: a worker waiting out an outage otherwise logs
    a traceback per loop per second and never says which server it cannot reach."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.down = False

    def lost(self, exc: BaseException) -> None:
        if not self.down:
            self.down = True
            log.warning(
                "redis unreachable; waiting for it", redis=self.where, error=str(exc) or repr(exc)
            )

    def back(self) -> None:
        if self.down:
            self.down = False
            log.warning("redis reachable again", redis=self.where)


class _QuietUpkeep(logging.Filter):
    """Drops saq's "Upkeep task failed unexpectedly" traceback when the cause is an unreachable
    Redis (its loops retry by themselves), reporting the outage to ``watch`` instead."""

    def __init__(self, watch: _RedisWatch) -> None:
        super().__init__()
        self.watch = watch

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, _REDIS_DOWN) and record.msg == "Upkeep task failed unexpectedly":
            self.watch.lost(exc)
            return False
        return True


class _PatientRedisQueue(RedisQueue):
    """saq's Redis queue with two fixes for long jobs.

    - A dequeue that finds Redis down waits (with backoff) instead of failing at once: saq
      re-runs a failed dequeue immediately, which spins a CPU and floods the log until Redis
      is back. Recovery is automatic: the connection pool reconnects.
    - The sweeper treats any job in the active list not yet marked ``active`` as stuck, but a
      worker moves a job there and marks it active in two steps; a sweep in between (likely
      when a worker starts with jobs waiting) aborts a healthy job and drops it from the
      active list, so if that worker then dies nobody ever re-runs it. Here such a job is
      swept only if a later sweep still finds it unmarked.
    - saq's sweep lock lasts one sweep period, but sweeping a stuck job takes up to
      ``abort_wait_s`` longer, so two sweepers could both retry it; here the lock is held
      while each stuck job is handled.
    """

    _backoff_s = 0.0
    _retry_at = 0.0
    _suspects: frozenset[bytes | str] = frozenset()
    on_abandoned: Abandoned | None = None
    watch: _RedisWatch
    """Shared by every queue of one ``SaqJobQueue`` (set there)."""
    abort_wait_s = 5.0
    """How long a sweep waits for a live worker to stop a job it aborts (saq's default)."""

    async def sweep(self, lock: int = 60, abort: float | None = None) -> list[str]:
        # saq's sweep, except for the ``unmarked`` rule and the lock (see the class docstring).
        wait_s = self.abort_wait_s if abort is None else abort
        if not await self.redis.set(self._sweep, 1, nx=True, ex=lock):
            return []
        ids = await self.redis.lrange(self._active, 0, -1)
        raws = await self.redis.mget(ids) if ids else []
        swept: list[str] = []
        unmarked: set[bytes | str] = set()
        for job_id, raw in zip(ids, raws, strict=True):
            job = self.deserialize(raw)
            if job is None:
                missing = job_id.decode() if isinstance(job_id, bytes) else job_id
                swept.append(missing)
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.lrem(self._active, 0, missing)
                    pipe.zrem(self._incomplete, missing)
                    await pipe.execute()
                continue
            if job.status != Status.ACTIVE:
                unmarked.add(job_id)
                if job_id not in self._suspects:
                    continue
            elif not job.stuck:
                continue
            swept.append(job.key)
            log.info("sweeping a stuck job", job=job.key, status=job.status.value)
            # Hold the sweep lock while this job is handled: a second sweeper retrying the
            # same job would put it in the active list twice (two live attempts).
            await self.redis.expire(self._sweep, lock + math.ceil(wait_s) + 1)
            await self.abort(job, error=self.swept_error_message)
            with contextlib.suppress(asyncio.TimeoutError):
                await job.refresh(wait_s)
            if job.retryable:
                await self.retry(job, error=self.swept_error_message)
            else:
                await self.finish(job, Status.ABORTED, error=self.swept_error_message)
                if self.on_abandoned is not None:
                    # Its worker is likely dead, so nobody else will charge or tell the user.
                    await _survive_cancel(self.on_abandoned(job), wait_s=GIVE_UP_TIMEOUT_S)
        self._suspects = frozenset(unmarked)
        return swept

    async def dequeue(
        self,
        timeout: float = 0.0,  # noqa: ASYNC109 - saq's signature
        poll_interval: float = 0.0,
    ) -> Job | None:
        try:
            job = await super().dequeue(timeout, poll_interval)
        except _REDIS_DOWN as exc:
            # Every concurrent dequeue fails at once; back off once per window, not per task.
            self.watch.lost(exc)
            now = asyncio.get_running_loop().time()
            if now >= self._retry_at:
                self._backoff_s = min(max(0.25, self._backoff_s * 2), 5.0)
                self._retry_at = now + self._backoff_s
            await asyncio.sleep(self._retry_at - now)
            return None
        self._backoff_s = 0.0
        self.watch.back()
        return job


class _SaqWorker(SaqWorker[Context]):
    """saq's worker, stopping promptly: its upkeep loops sleep up to ``worker_info`` seconds
    between runs and ``stop`` waits for them, which wastes the platform's kill window. Upkeep
    is cancelled first; job tasks still get the full grace period."""

    SIGNALS: list[signal.Signals] = []  # noqa: RUF012 - SaqJobRunner decides who handles signals
    _upkeep_tasks: list[asyncio.Task[None]]

    async def upkeep(self) -> list[asyncio.Task[None]]:
        self._upkeep_tasks = await super().upkeep()
        return self._upkeep_tasks

    async def start(self) -> None:
        quiet = _QuietUpkeep(self.queue.watch)  # type: ignore[attr-defined]
        _saq_log.addFilter(quiet)
        try:
            await super().start()
        finally:
            _saq_log.removeFilter(quiet)

    async def stop(self) -> None:
        for task in getattr(self, "_upkeep_tasks", []):
            task.cancel()
        await super().stop()


class SaqJobRunner:
    """The saq workers of one ``Worker`` (one per platform it can answer) and the reaper of the
    pending set (``pending.py``). ``start`` runs until ``stop``: stop taking jobs, let running
    ones finish within the grace period, then cancel and hand the rest back to the queue."""

    def __init__(
        self,
        reap: Callable[[], Awaitable[object]],
        reap_s: float,
        workers: list[_SaqWorker],
    ) -> None:
        self.workers = workers
        self._reap = reap
        self._reap_s = reap_s
        self._stopping = asyncio.Event()

    async def start(self, *, handle_signals: bool = False) -> None:
        """Run until ``stop``; with ``handle_signals``, SIGTERM and SIGINT call ``stop`` (for a
        process that is only a worker; a bot keeps its own signal handling)."""
        loop = asyncio.get_running_loop()
        stopping: set[asyncio.Task[None]] = set()
        if handle_signals:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, lambda: stopping.add(loop.create_task(self.stop())))
        reaper = asyncio.create_task(self._reap_until_stopped())
        try:
            await asyncio.gather(*(w.start() for w in self.workers))
        finally:
            reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reaper
            if handle_signals:
                for signum in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(signum)
            if stopping:
                await asyncio.gather(*stopping)

    async def stop(self) -> None:
        self._stopping.set()
        await asyncio.gather(*(w.stop() for w in self.workers))

    def _watch_lost(self, exc: BaseException) -> None:
        """Report an outage the reaper met the way the queues do: one warning, no traceback."""
        for worker in self.workers[:1]:
            worker.queue.watch.lost(exc)  # type: ignore[attr-defined]

    async def _reap_until_stopped(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._reap()
            except (UnavailableError, *_REDIS_DOWN) as exc:  # the next period tries again
                self._watch_lost(exc.__cause__ or exc)
            except Exception:
                log.warning("reaping lost jobs failed", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._reap_s)


class SaqJobQueue:
    """Enqueue ``FusionJob``s on saq and build the workers that run them.

    One saq queue per platform (``fusion:slack``, ``fusion:discord``): a process
    runs only the jobs it has a responder for, so a Slack web process with an in-process worker
    never takes a Discord job it cannot answer. Owns ``redis`` (closed in ``aclose``).
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        name: str = SAQ_QUEUE_NAME,
        timeout_s: int = 360,
        heartbeat_s: int = 15,
        retries: int = 4,
        retry_delay_s: float = 1.0,
        ttl_s: int = 3600,
        dedupe_ttl_s: int = DEDUPE_TTL_S,
        pending_lease_s: float = PENDING_LEASE_S,
        max_reaps: int = 3,
        park_s: float = 3600.0,
    ) -> None:
        self._redis = redis
        self.pending = PendingJobs(redis, lease_s=pending_lease_s, dedupe_ttl_s=dedupe_ttl_s)
        self._max_reaps = max_reaps
        self._park_s = park_s
        self.queues: dict[str, _PatientRedisQueue] = {
            platform: _PatientRedisQueue(redis, name=f"{name}:{platform}") for platform in PLATFORMS
        }
        watch = _RedisWatch(redis_address(redis))  # one outage, one warning, for every queue
        for queue in self.queues.values():
            queue.watch = watch
        self._job_options: dict[str, Any] = {
            "timeout": timeout_s,
            "heartbeat": heartbeat_s,
            "retries": retries,
            "retry_delay": retry_delay_s,
            "retry_backoff": 10.0,
            "ttl": ttl_s,
        }

    async def connect(self) -> None:
        for queue in self.queues.values():
            await queue.connect()

    async def aclose(self) -> None:
        for queue in self.queues.values():
            with contextlib.suppress(Exception):
                await queue.disconnect()

    async def enqueue(self, job: FusionJob) -> bool:
        if not await self.pending.accept(job):
            return False
        try:
            with redis_unavailable():
                queued = await self._offer(job)
        except BaseException:
            # Not queued after all: forget it, so a retried delivery can queue it.
            with contextlib.suppress(Exception):
                await self.pending.forget(job.key)
            raise
        return queued is not None

    async def _offer(self, job: FusionJob, **options: Any) -> Job | None:
        """saq's ``enqueue`` under the job's key: None when saq still holds that key."""
        return await self.queues[job.reply.platform].enqueue(
            JOB_FUNCTION,
            key=job.key,
            job=job.model_dump(mode="json"),
            **{**self._job_options, **options},
        )

    async def reap(self, worker: Worker) -> list[str]:
        """Queue again the pending jobs saq lost (see ``pending.py``); returns their keys.

        A job reaped ``max_reaps`` times keeps killing its workers (or meets a recovery that
        keeps dying): it is given up instead — spend settled, user told, marked done — by a
        process that can answer its platform. It is first parked in saq (queued to run only
        after ``park_s``), which both proves saq had lost it and stops any worker running it
        while ``give_up`` works; once done, the parked copy finds the ``done`` marker."""
        requeued: list[str] = []
        for key in await self.pending.claim():
            try:
                if await self._reap_one(key, worker):
                    requeued.append(key)
            except Exception:  # one bad entry must not hold up the others
                log.warning("could not reap a pending job", job=key, exc_info=True)
        return requeued

    async def _reap_one(self, key: str, worker: Worker) -> bool:
        if await worker.ledger.is_done(key):
            await self.pending.drop(key)
            return False
        record = await self.pending.get(key)
        if record is None:
            log.error("a pending job's record is gone; dropping it", job=key)
            await self.pending.drop(key)
            return False
        job, reaps = record
        poison = reaps >= self._max_reaps
        if poison and job.reply.platform not in worker.platforms:
            return False  # left for a process that can tell its user
        parked = {"scheduled": int(time.time() + self._park_s)} if poison else {}
        if await self._offer(job, **parked) is None:
            return False  # saq still holds it (queued, running or being aborted)
        if poison:
            _spawn(worker.give_up(job, RuntimeError(f"lost by the queue {reaps} times")))
            return False
        await self.pending.reaped(key)
        log.warning("re-queued a job the queue had lost", job=key, reaps=reaps + 1)
        return True

    async def seen(self, key: str) -> bool:
        """True when ``key`` was already accepted (a retried delivery)."""
        with redis_unavailable():
            return bool(await self._redis.exists(JobKeys(key).accepted))

    def worker(
        self,
        worker: Worker,
        *,
        concurrency: int = 8,
        shutdown_grace_s: int = 25,
        sweep_s: int = 5,
        reap_s: float = 5.0,
    ) -> SaqJobRunner:
        """Runners for ``worker``'s platforms. ``await r.start()``; ``await r.stop()``."""
        cancel_deadline_s = 2.0

        async def run(ctx: Context, *, job: dict[str, Any]) -> None:
            saq_job = ctx.get("job")
            fusion_job = FusionJob.model_validate(job)

            async def heartbeat() -> None:
                if saq_job is not None:
                    await saq_job.update()  # saq's: not stuck, so not swept
                await self.pending.extend(fusion_job.key)  # ours: not lost, so not reaped

            last = saq_job is not None and not saq_job.retryable
            try:
                await worker.run_job(fusion_job, heartbeat=heartbeat)
            except Exception as exc:
                if last:
                    await worker.give_up(fusion_job, exc)
                raise
            except asyncio.CancelledError as exc:
                # A timeout or a sweep abort cancels the task. On the last attempt nobody runs
                # it again: settle what was spent and tell the user, in a task the next cancel
                # cannot reach. A stopping worker is different: saq hands the job back.
                if last and not ctx["worker"].event.is_set():
                    await _survive_cancel(worker.give_up(fusion_job, exc), wait_s=cancel_deadline_s)
                raise

        async def abandoned(saq_job: Job) -> None:
            await worker.give_up(
                FusionJob.model_validate((saq_job.kwargs or {})["job"]),
                TimeoutError(saq_job.error or "swept"),
            )

        for platform in worker.platforms:
            if platform in self.queues:
                self.queues[platform].on_abandoned = abandoned

        return SaqJobRunner(
            lambda: self.reap(worker),
            reap_s,
            [
                _SaqWorker(
                    self.queues[platform],
                    functions=[(JOB_FUNCTION, run)],
                    concurrency=concurrency,
                    timers={"sweep": sweep_s, "abort": 1, "schedule": 1, "worker_info": 10},
                    dequeue_timeout=1.0,
                    shutdown_grace_period_s=shutdown_grace_s,
                    cancellation_hard_deadline_s=cancel_deadline_s,
                )
                for platform in worker.platforms
                if platform in self.queues
            ],
        )
