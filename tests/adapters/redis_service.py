"""The real ``FusionService`` on one Redis, wired as the chat processes wire it (budgets in Lua,
the saq queue, the rate limiter), for adapter tests that stop that Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis

from fusion_engine.budget.redis_store import RedisBudgetStore
from fusion_engine.config import FusionConfig
from fusion_engine.jobs.saq_queue import SaqJobQueue
from fusion_engine.port import EnginePort
from fusion_engine.ratelimit import UserRateLimiter
from fusion_engine.redis_guard import connect_redis
from fusion_engine.service import FusionService

__all__ = ["redis_service"]


@asynccontextmanager
async def redis_service(
    url: str, config: FusionConfig, engine: EnginePort
) -> AsyncIterator[tuple[FusionService, aioredis.Redis]]:
    """The service, and the command client the adapter should share with it (short
    timeouts, so a stopped server fails fast)."""
    redis = connect_redis(url, timeout_s=0.5)
    queue = SaqJobQueue(connect_redis(url, timeout_s=0.5))
    await queue.connect()
    try:
        yield (
            FusionService(
                config=config,
                engine=engine,
                budgets=RedisBudgetStore.from_defaults(redis, config.budgets),
                queue=queue,
                limiter=UserRateLimiter.on_redis("100/minute", redis),
            ),
            redis,
        )
    finally:
        await queue.aclose()
        await redis.aclose()
