"""The per-user limiter, on Redis and in memory: exactly ``N`` hits per window pass, the next is
refused with the true wait, other users keep their own count, and a refusal costs nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
import redis.asyncio as aioredis

from fusion_engine.errors import ConfigError, RateLimited
from fusion_engine.ratelimit import UserRateLimiter

MakeLimiter = Callable[[str], UserRateLimiter]


@pytest.fixture(params=["redis", "memory"])
def make(request: pytest.FixtureRequest, redis_client: aioredis.Redis) -> MakeLimiter:
    """A factory: ``make(limit)`` builds a limiter on this run's storage."""

    def build(limit: str) -> UserRateLimiter:
        if request.param == "redis":
            return UserRateLimiter.on_redis(limit, redis_client)
        return UserRateLimiter.in_memory(limit)

    return build


async def passed(limiter: UserRateLimiter, user: str | None, tries: int) -> int:
    """How many of ``tries`` hits in a row were let through."""
    count = 0
    for _ in range(tries):
        try:
            await limiter.hit(user)
        except RateLimited:
            continue
        count += 1
    return count


async def test_the_limit_passes_and_the_next_is_refused_with_the_wait(
    make: MakeLimiter,
) -> None:
    limiter = make("3/minute")
    first = time.time()
    assert await passed(limiter, "U1", 3) == 3
    with pytest.raises(RateLimited) as info:
        await limiter.hit("U1")
    refused = info.value
    assert (refused.user, refused.limit) == ("U1", "3/minute")
    # The window frees its oldest hit one minute after it was made.
    elapsed = time.time() - first
    assert 60 - elapsed - 1.5 <= refused.retry_after_s <= 60
    assert refused.user_message == "Too many questions (limit 3/minute). Try again in 60 s."


async def test_refused_hits_are_not_counted(make: MakeLimiter) -> None:
    limiter = make("2/second")
    assert await passed(limiter, "U1", 10) == 2
    with pytest.raises(RateLimited) as info:
        await limiter.hit("U1")
    wait = info.value.retry_after_s
    assert 0 < wait <= 1
    await asyncio.sleep(wait + 0.1)  # the wait it gave is the wait: then exactly 2 pass again
    assert await passed(limiter, "U1", 10) == 2


async def test_users_are_limited_separately_and_anonymous_ones_not_at_all(
    make: MakeLimiter,
) -> None:
    limiter = make("3/minute")
    assert await passed(limiter, "U1", 5) == 3
    assert await passed(limiter, "U2", 5) == 3
    assert await passed(limiter, None, 50) == 50


async def test_limit_is_shared_across_processes_on_redis(redis_client: aioredis.Redis) -> None:
    a = UserRateLimiter.on_redis("2/minute", redis_client)
    b = UserRateLimiter.on_redis("2/minute", redis_client)
    assert await passed(a, "U1", 1) == 1
    assert await passed(b, "U1", 1) == 1
    assert await passed(a, "U1", 3) == 0
    assert await passed(b, "U1", 3) == 0


def test_a_bad_limit_string_says_how_to_fix_it() -> None:
    with pytest.raises(ConfigError, match="10/minute"):
        UserRateLimiter.in_memory("lots")
