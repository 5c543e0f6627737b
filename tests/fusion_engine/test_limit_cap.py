"""The $1,000,000 cap on a budget limit holds behind every door, not only the CLI's: chat's
``/fuse budget set`` reaches ``FusionService.set_limits``, which must refuse a limit the budget
scripts would overflow on and leave the old limits in place."""

from __future__ import annotations

import pytest

from fusion_engine.budget.memory import MemoryBudgetStore
from fusion_engine.config import load_config
from fusion_engine.errors import InputError
from fusion_engine.money import MAX_LIMIT_MICROS, MAX_LIMIT_USD
from fusion_engine.ratelimit import UserRateLimiter
from fusion_engine.service import FusionService
from tests.fusion_engine.jobs.fakes import FakeEngine


def service(budgets: MemoryBudgetStore) -> FusionService:
    return FusionService(
        config=load_config(),
        engine=FakeEngine(),
        budgets=budgets,
        queue=None,  # type: ignore[arg-type] # setting limits queues nothing
        limiter=UserRateLimiter.in_memory("10/minute"),
    )


@pytest.mark.parametrize(("daily", "monthly"), [(1e13, 50.0), (5.0, MAX_LIMIT_USD + 0.01)])
async def test_the_service_refuses_a_limit_past_the_maximum(daily: float, monthly: float) -> None:
    budgets = MemoryBudgetStore()
    with pytest.raises(InputError, match=r"from 0 to \$1,000,000\.00"):
        await service(budgets).set_limits("T1", daily_usd=daily, monthly_usd=monthly)
    status = await budgets.status("T1")
    assert (status.daily_limit_micros, status.monthly_limit_micros) == (5_000_000, 50_000_000)


async def test_the_maximum_itself_is_accepted() -> None:
    status = await service(MemoryBudgetStore()).set_limits(
        "T1", daily_usd=MAX_LIMIT_USD, monthly_usd=MAX_LIMIT_USD
    )
    assert (status.daily_limit_micros, status.monthly_limit_micros) == (MAX_LIMIT_MICROS,) * 2
