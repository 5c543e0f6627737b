"""Per-user rate limiting over the ``limits`` library (moving window), on Redis or in memory.

Why ``limits``: moving-window counting that is atomic on Redis is easy to get subtly wrong by
hand, and the library already does it with one Lua script per hit. The limit is a ``limits``
string from the config (``"10/minute"``); a refused user gets ``RateLimited`` with the wait.
"""

from __future__ import annotations

import time
from typing import Any

import limits
import redis.asyncio as aioredis
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from fusion_engine.errors import ConfigError, RateLimited
from fusion_engine.keys import RATE_LIMIT_PREFIX
from fusion_engine.redis_guard import redis_unavailable

__all__ = ["UserRateLimiter"]


class UserRateLimiter:
    """Refuses a user past ``limit`` (e.g. ``"10/minute"``). ``None`` users are not limited."""

    def __init__(self, limit: str, storage: Storage) -> None:
        try:
            self._item = limits.parse(limit)
        except ValueError as exc:
            raise ConfigError(
                f"user_rate_limit {limit!r} is not a rate limit; write e.g. '10/minute'."
            ) from exc
        self._limit = limit
        self._strategy = MovingWindowRateLimiter(storage)

    @classmethod
    def in_memory(cls, limit: str) -> UserRateLimiter:
        """One process's own counters (tests, the CLI)."""
        return cls(limit, MemoryStorage())

    @classmethod
    def on_redis(cls, limit: str, redis: aioredis.Redis) -> UserRateLimiter:
        """Counters shared by every process, on the connection pool of ``redis``."""
        kwargs = redis.connection_pool.connection_kwargs
        uri = f"async+redis://{kwargs.get('host', '127.0.0.1')}:{kwargs.get('port', 6379)}"
        shared: dict[str, Any] = {"connection_pool": redis.connection_pool}
        storage = RedisStorage(
            uri, implementation="redispy", key_prefix=RATE_LIMIT_PREFIX, **shared
        )
        return cls(limit, storage)

    async def hit(self, user: str | None) -> None:
        """Count one request from ``user``; ``RateLimited`` says how long to wait."""
        if user is None:
            return
        with redis_unavailable():
            if await self._strategy.hit(self._item, user):
                return
            stats = await self._strategy.get_window_stats(self._item, user)
        raise RateLimited(
            user, limit=self._limit, retry_after_s=max(0.0, stats.reset_time - time.time())
        )
