"""The job ledger: the few facts about a job that make its effects exactly-once.

Delivery is at least once (saq re-queues a job whose worker died), so every effect checks the
ledger first. Per job key it holds: a short-lived run lock (one attempt at a time), what each
attempt is known to have spent, the finished outcome (so a re-run re-delivers instead of
re-asking the models), and a ``done`` marker (delivered and settled: nothing left to do), set
together with the job's removal from the pending set (``pending.py``).
``RedisJobLedger`` is the real one; ``MemoryJobLedger`` is its fake for in-process use.
"""

from __future__ import annotations

from importlib import resources
from typing import Protocol

import redis.asyncio as aioredis

from fusion_engine.keys import DEDUPE_TTL_S, PENDING_JOBS, JobKeys
from fusion_engine.redis_guard import redis_unavailable

__all__ = ["JobBusy", "JobLedger", "MemoryJobLedger", "RedisJobLedger"]


class JobBusy(Exception):
    """Another live attempt holds this job's run lock; the queue should retry it later."""

    def __init__(self, key: str) -> None:
        super().__init__(f"job {key} is being run by another attempt")
        self.key = key


class JobLedger(Protocol):
    async def acquire(self, key: str, token: str, *, ttl_s: float) -> bool: ...
    async def renew(self, key: str, token: str, *, ttl_s: float) -> bool: ...
    async def release(self, key: str, token: str) -> None: ...
    async def record_spend(self, key: str, attempt: str, micros: int) -> None:
        """What ``attempt`` has spent so far (overwrites that attempt's earlier figure)."""
        ...

    async def spent(self, key: str) -> int:
        """The sum over every attempt: the amount to settle, so no real spend is lost."""
        ...

    async def save_outcome(self, key: str, outcome: str) -> None: ...
    async def outcome(self, key: str) -> str | None: ...
    async def mark_done(self, key: str) -> None: ...
    async def is_done(self, key: str) -> bool: ...


def _script(name: str) -> str:
    return resources.files("fusion_engine.jobs").joinpath("lua", name).read_text()


class RedisJobLedger:
    def __init__(self, redis: aioredis.Redis, *, ttl_s: int = DEDUPE_TTL_S) -> None:
        self._redis = redis
        self._ttl_s = ttl_s
        self._release = redis.register_script(_script("lock_release.lua"))
        self._renew = redis.register_script(_script("lock_renew.lua"))

    async def acquire(self, key: str, token: str, *, ttl_s: float) -> bool:
        with redis_unavailable():
            ok = await self._redis.set(JobKeys(key).lock, token, nx=True, px=int(ttl_s * 1000))
        return bool(ok)

    async def renew(self, key: str, token: str, *, ttl_s: float) -> bool:
        with redis_unavailable():
            return bool(
                await self._renew(keys=[JobKeys(key).lock], args=[token, int(ttl_s * 1000)])
            )

    async def release(self, key: str, token: str) -> None:
        with redis_unavailable():
            await self._release(keys=[JobKeys(key).lock], args=[token])

    async def record_spend(self, key: str, attempt: str, micros: int) -> None:
        name = JobKeys(key).attempts
        with redis_unavailable():
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(name, attempt, micros)
                pipe.expire(name, self._ttl_s)
                await pipe.execute()

    async def spent(self, key: str) -> int:
        with redis_unavailable():
            values = await self._redis.hvals(JobKeys(key).attempts)
        return sum(int(v) for v in values)

    async def save_outcome(self, key: str, outcome: str) -> None:
        with redis_unavailable():
            await self._redis.set(JobKeys(key).outcome, outcome, ex=self._ttl_s)

    async def outcome(self, key: str) -> str | None:
        with redis_unavailable():
            raw = await self._redis.get(JobKeys(key).outcome)
        return raw.decode() if isinstance(raw, bytes) else raw

    async def mark_done(self, key: str) -> None:
        """Set ``done`` and drop the job from the pending set in one transaction, so a done job
        is never re-queued by a reaper and a pending one is never forgotten (``pending.py``)."""
        keys = JobKeys(key)
        with redis_unavailable():
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(keys.done, 1, ex=self._ttl_s)
                pipe.zrem(PENDING_JOBS, key)
                pipe.delete(keys.pending)
                await pipe.execute()

    async def is_done(self, key: str) -> bool:
        with redis_unavailable():
            return bool(await self._redis.exists(JobKeys(key).done))


class MemoryJobLedger:
    """The ledger in dicts; locks never expire (one process, so no one else can die holding one)."""

    def __init__(self) -> None:
        self.locks: dict[str, str] = {}
        self.attempts: dict[str, dict[str, int]] = {}
        self.outcomes: dict[str, str] = {}
        self.done: set[str] = set()

    async def acquire(self, key: str, token: str, *, ttl_s: float) -> bool:
        if key in self.locks:
            return False
        self.locks[key] = token
        return True

    async def renew(self, key: str, token: str, *, ttl_s: float) -> bool:
        return self.locks.get(key) == token

    async def release(self, key: str, token: str) -> None:
        if self.locks.get(key) == token:
            del self.locks[key]

    async def record_spend(self, key: str, attempt: str, micros: int) -> None:
        self.attempts.setdefault(key, {})[attempt] = micros

    async def spent(self, key: str) -> int:
        return sum(self.attempts.get(key, {}).values())

    async def save_outcome(self, key: str, outcome: str) -> None:
        self.outcomes[key] = outcome

    async def outcome(self, key: str) -> str | None:
        return self.outcomes.get(key)

    async def mark_done(self, key: str) -> None:
        self.done.add(key)

    async def is_done(self, key: str) -> bool:
        return key in self.done
