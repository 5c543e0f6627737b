"""Budget stores under test: the Redis one (real server) and the in-memory fake, same tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis

from fusion_engine.budget.base import BudgetStore
from fusion_engine.budget.memory import MemoryBudgetStore
from fusion_engine.budget.redis_store import RedisBudgetStore


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = datetime(2026, 3, 31, 23, 0, tzinfo=UTC)) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["redis", "memory"])
async def store(
    request: pytest.FixtureRequest, clock: FakeClock, redis_client: aioredis.Redis
) -> AsyncIterator[BudgetStore]:
    """Each budget test runs against both implementations of the seam."""
    if request.param == "redis":
        yield RedisBudgetStore(
            redis_client,
            default_daily_micros=1_000_000,
            default_monthly_micros=3_000_000,
            clock=clock,
        )
    else:
        yield MemoryBudgetStore(
            default_daily_micros=1_000_000, default_monthly_micros=3_000_000, clock=clock
        )
