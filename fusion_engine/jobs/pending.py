"""Pending jobs: every accepted job stays here, leased, until it is done — so none is lost.

saq holds a job in its own lists while it is queued, scheduled or running, but its recovery of
a dead worker's job (the sweep: abort, wait up to 5 s, retry) passes through a window where the
job is in no list, and a worker killed there strands it for good. ``SaqJobQueue.enqueue`` had a
second such window (the ``accepted`` marker set, saq's enqueue not yet done). So Fusion keeps
its own record, built only on saq's public ``enqueue``:

- ``accept`` sets the ``accepted`` marker and makes the job pending in one atomic step, before
  saq is asked to queue it: accepted ⇒ pending.
- the running attempt's keep-alive ``extend``s the lease; ``RedisJobLedger.mark_done`` removes
  the job in the same transaction that marks it done: done ⇒ not pending.
- a reaper in every worker process ``claim``s the jobs whose lease lapsed and offers each to
  saq's ``enqueue`` again under its key. saq refuses a key it still holds (queued, scheduled,
  running, or being aborted), and then the claim has simply pushed the lease on; a key it lost
  is queued again. Claims are atomic, so two reapers never act on the same lapse.

A job saq lost is thus queued again within one lease (``PENDING_LEASE_S``) plus one reap
period of the last time a worker touched it (a keep-alive, or a reaper's claim), or once saq's
own abort marker (5 s) lapses if that is later. Leases use each process's clock, as the
budget's holds do: a skew of a second moves a recovery by a second, nothing more.
"""

from __future__ import annotations

import time
from importlib import resources

import redis.asyncio as aioredis
from pydantic import ValidationError

from fusion_engine.jobs.base import FusionJob
from fusion_engine.keys import DEDUPE_TTL_S, PENDING_JOBS, PENDING_LEASE_S, JobKeys
from fusion_engine.redis_guard import redis_unavailable

__all__ = ["PendingJobs"]


def _script(name: str) -> str:
    return resources.files("fusion_engine.jobs").joinpath("lua", name).read_text()


def _now_ms() -> int:
    return int(time.time() * 1000)


class PendingJobs:
    """The pending set on Redis (``PENDING_JOBS`` plus one ``JobKeys.pending`` hash per job)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        lease_s: float = PENDING_LEASE_S,
        dedupe_ttl_s: int = DEDUPE_TTL_S,
    ) -> None:
        self._redis = redis
        self._lease_ms = int(lease_s * 1000)
        self._dedupe_ttl_s = dedupe_ttl_s
        self._accept = redis.register_script(_script("pending_accept.lua"))
        self._claim = redis.register_script(_script("pending_claim.lua"))

    async def accept(self, job: FusionJob) -> bool:
        """Mark ``job.key`` accepted and pending; False when it already was (a retry)."""
        keys = JobKeys(job.key)
        with redis_unavailable():
            accepted = await self._accept(
                keys=[keys.accepted, PENDING_JOBS, keys.pending],
                args=[
                    job.key,
                    job.model_dump_json(),
                    self._dedupe_ttl_s,
                    _now_ms() + self._lease_ms,
                ],
            )
        return bool(accepted)

    async def forget(self, key: str) -> None:
        """Undo ``accept`` (the queue refused the job), so a retried delivery can queue it."""
        keys = JobKeys(key)
        with redis_unavailable():
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(keys.accepted, keys.pending)
                pipe.zrem(PENDING_JOBS, key)
                await pipe.execute()

    async def extend(self, key: str) -> None:
        """Push the lease of a pending job on (a no-op once it is done)."""
        with redis_unavailable():
            await self._redis.zadd(PENDING_JOBS, {key: _now_ms() + self._lease_ms}, xx=True)

    async def lease_left_s(self, key: str) -> float | None:
        """Seconds until ``key``'s lease lapses (negative once lapsed); None if not pending."""
        with redis_unavailable():
            score = await self._redis.zscore(PENDING_JOBS, key)
        return None if score is None else (score - _now_ms()) / 1000

    async def claim(self, *, limit: int = 100) -> list[str]:
        """The keys whose lease lapsed, each leased again to this caller."""
        now = _now_ms()
        with redis_unavailable():
            keys = await self._claim(keys=[PENDING_JOBS], args=[now, now + self._lease_ms, limit])
        return [k.decode() if isinstance(k, bytes) else k for k in keys]

    async def get(self, key: str) -> tuple[FusionJob, int] | None:
        """The pending job and how often it was reaped; None when its record is gone (or was
        written by a version whose ``FusionJob`` this one cannot read)."""
        with redis_unavailable():
            raw, reaps = await self._redis.hmget(JobKeys(key).pending, ["job", "reaps"])
        if raw is None:
            return None
        try:
            return FusionJob.model_validate_json(raw), int(reaps or 0)
        except ValidationError:
            return None

    async def reaped(self, key: str) -> None:
        """Count one more re-queue of ``key`` by a reaper."""
        name = JobKeys(key).pending
        with redis_unavailable():
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hincrby(name, "reaps", 1)
                pipe.expire(name, self._dedupe_ttl_s)
                await pipe.execute()

    async def drop(self, key: str) -> None:
        """Stop tracking ``key`` (it is done, or its record expired)."""
        with redis_unavailable():
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zrem(PENDING_JOBS, key)
                pipe.delete(JobKeys(key).pending)
                await pipe.execute()
