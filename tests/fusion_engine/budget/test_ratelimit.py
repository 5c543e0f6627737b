"""The per-user limiter refuses floods, on Redis and in memory."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from fusion_engine.errors import ConfigError, RateLimited
from fusion_engine.ratelimit import UserRateLimiter


@pytest.fixture(params=["redis", "memory"])
def limiter(request: pytest.FixtureRequest, redis_client: aioredis.Redis) -> UserRateLimiter:
    if request.param == "redis":
        return UserRateLimiter.on_redis("3/minute", redis_client)
    return UserRateLimiter.in_memory("3/minute")


async def test_a_flood_is_refused_with_the_wait(limiter: UserRateLimiter) -> None:
    for _ in range(3):
        await limiter.hit("U1")
    with pytest.raises(RateLimited) as info:
        await limiter.hit("U1")
    assert info.value.user == "U1"
    assert info.value.limit == "3/minute"
    assert 0 < info.value.retry_after_s <= 60
    assert "Try again in" in info.value.user_message


async def test_users_are_limited_separately(limiter: UserRateLimiter) -> None:
    for _ in range(3):
        await limiter.hit("U1")
    await limiter.hit("U2")
    await limiter.hit(None)


async def test_limit_is_shared_across_processes_on_redis(redis_client: aioredis.Redis) -> None:
    a = UserRateLimiter.on_redis("2/minute", redis_client)
    b = UserRateLimiter.on_redis("2/minute", redis_client)
    await a.hit("U1")
    await b.hit("U1")
    with pytest.raises(RateLimited):
        await a.hit("U1")


def test_a_bad_limit_string_says_how_to_fix_it() -> None:
    with pytest.raises(ConfigError, match="10/minute"):
        UserRateLimiter.in_memory("lots")
