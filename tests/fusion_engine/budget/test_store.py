"""The BudgetStore contract, against Redis (Lua) and the in-memory fake."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bots.embedded_redis import EmbeddedRedis
from fusion_engine.budget.base import BudgetStore
from fusion_engine.budget.redis_store import RedisBudgetStore
from fusion_engine.errors import BudgetExceeded
from fusion_engine.redis_guard import connect_redis
from tests.fusion_engine.budget.conftest import FakeClock


async def test_new_tenant_gets_the_defaults(store: BudgetStore) -> None:
    status = await store.status("acme")
    assert (status.daily_limit_micros, status.monthly_limit_micros) == (1_000_000, 3_000_000)
    assert status.remaining_micros == 1_000_000


async def test_reserve_then_settle_moves_hold_to_spend(store: BudgetStore) -> None:
    held = await store.reserve("acme", "job-1", 400_000, lease_s=60)
    assert held.held_micros == 400_000
    assert held.remaining_micros == 600_000
    assert await store.settle("acme", "job-1", 123_456) is True
    status = await store.status("acme")
    assert status.held_micros == 0
    assert status.daily_spent_micros == status.monthly_spent_micros == 123_456


async def test_over_budget_is_refused_with_what_is_left(store: BudgetStore) -> None:
    await store.reserve("acme", "a", 700_000, lease_s=60)
    with pytest.raises(BudgetExceeded) as info:
        await store.reserve("acme", "b", 400_000, lease_s=60)
    err = info.value
    assert err.window == "daily"
    assert err.remaining_micros == 300_000
    assert err.quote_micros == 400_000
    assert err.resets_at == datetime(2026, 4, 1, tzinfo=UTC)
    assert "$0.3000 left" in err.user_message
    assert "2026-04-01 00:00 UTC" in err.user_message
    assert (await store.status("acme")).held_micros == 700_000


async def test_monthly_limit_names_the_month(store: BudgetStore, clock: FakeClock) -> None:
    await store.set_limits("acme", daily_micros=10_000_000, monthly_micros=1_000_000)
    await store.reserve("acme", "a", 900_000, lease_s=60)
    with pytest.raises(BudgetExceeded) as info:
        await store.reserve("acme", "b", 200_000, lease_s=60)
    assert info.value.window == "monthly"
    assert info.value.resets_at == datetime(2026, 4, 1, tzinfo=UTC)


async def test_reserving_the_same_hold_twice_holds_once(store: BudgetStore) -> None:
    await store.reserve("acme", "job-1", 600_000, lease_s=60)
    again = await store.reserve("acme", "job-1", 600_000, lease_s=60)
    assert again.held_micros == 600_000


async def test_a_live_hold_grows_by_the_increase_only(store: BudgetStore) -> None:
    await store.reserve("acme", "other", 300_000, lease_s=60)
    await store.reserve("acme", "job-1", 400_000, lease_s=60)
    # 300k + 400k held: growing job-1 to 700k needs 300k more, exactly what is left.
    grown = await store.reserve("acme", "job-1", 700_000, lease_s=60)
    assert grown.held_micros == 1_000_000
    assert grown.remaining_micros == 0
    assert await store.settle("acme", "job-1", 650_000) is True
    status = await store.status("acme")
    assert (status.held_micros, status.daily_spent_micros) == (300_000, 650_000)


async def test_a_refused_growth_leaves_the_hold_as_it_was(store: BudgetStore) -> None:
    await store.reserve("acme", "other", 300_000, lease_s=60)
    await store.reserve("acme", "job-1", 400_000, lease_s=60)
    with pytest.raises(BudgetExceeded) as info:
        await store.reserve("acme", "job-1", 700_001, lease_s=60)
    assert info.value.quote_micros == 300_001
    assert info.value.remaining_micros == 300_000
    assert info.value.more is True
    assert "needs up to $0.300001 more" in info.value.user_message
    assert (await store.status("acme")).held_micros == 700_000
    assert await store.settle("acme", "job-1", 400_000) is True
    assert (await store.status("acme")).held_micros == 300_000


async def test_a_smaller_reserve_renews_the_lease_and_keeps_the_amount(
    store: BudgetStore, clock: FakeClock
) -> None:
    await store.reserve("acme", "job-1", 900_000, lease_s=30)
    clock.advance(seconds=20)
    again = await store.reserve("acme", "job-1", 100_000, lease_s=30)
    assert again.held_micros == 900_000
    clock.advance(seconds=20)  # past the first lease, within the renewed one
    assert (await store.status("acme")).held_micros == 900_000


async def test_growing_a_lapsed_hold_is_a_fresh_hold_of_the_whole_amount(
    store: BudgetStore, clock: FakeClock
) -> None:
    await store.reserve("acme", "job-1", 600_000, lease_s=10)
    clock.advance(seconds=11)
    await store.reserve("acme", "other", 300_000, lease_s=60)
    with pytest.raises(BudgetExceeded) as info:
        await store.reserve("acme", "job-1", 800_000, lease_s=60)
    assert (info.value.quote_micros, info.value.more) == (800_000, False)
    status = await store.reserve("acme", "job-1", 700_000, lease_s=60)
    assert status.held_micros == 1_000_000


async def test_a_settled_hold_does_not_grow(store: BudgetStore) -> None:
    await store.reserve("acme", "job-1", 100_000, lease_s=60)
    await store.settle("acme", "job-1", 100_000)
    status = await store.reserve("acme", "job-1", 500_000, lease_s=60)
    assert (status.held_micros, status.daily_spent_micros) == (0, 100_000)


async def test_settle_is_idempotent(store: BudgetStore) -> None:
    await store.reserve("acme", "job-1", 500_000, lease_s=60)
    assert await store.settle("acme", "job-1", 200_000) is True
    assert await store.settle("acme", "job-1", 200_000) is False
    assert await store.settle("acme", "job-1", 999_999) is False
    assert (await store.status("acme")).daily_spent_micros == 200_000
    # A settled hold is not held again by a late re-delivery.
    again = await store.reserve("acme", "job-1", 500_000, lease_s=60)
    assert again.held_micros == 0


async def test_lease_expiry_releases_the_hold(store: BudgetStore, clock: FakeClock) -> None:
    await store.reserve("acme", "crashed", 900_000, lease_s=30)
    with pytest.raises(BudgetExceeded):
        await store.reserve("acme", "next", 900_000, lease_s=30)
    clock.advance(seconds=31)
    assert (await store.status("acme")).held_micros == 0
    status = await store.reserve("acme", "next", 900_000, lease_s=30)
    assert status.held_micros == 900_000


async def test_extend_keeps_a_running_hold(store: BudgetStore, clock: FakeClock) -> None:
    await store.reserve("acme", "running", 900_000, lease_s=30)
    clock.advance(seconds=20)
    await store.extend("acme", "running", lease_s=30)
    clock.advance(seconds=20)
    with pytest.raises(BudgetExceeded):
        await store.reserve("acme", "other", 900_000, lease_s=30)


async def test_late_settle_still_records_spend(store: BudgetStore, clock: FakeClock) -> None:
    await store.reserve("acme", "slow", 500_000, lease_s=10)
    clock.advance(seconds=60)
    assert await store.settle("acme", "slow", 450_000) is True
    status = await store.status("acme")
    assert status.daily_spent_micros == 450_000
    assert status.held_micros == 0


async def test_windows_roll_over_at_midnight_and_month_end(
    store: BudgetStore, clock: FakeClock
) -> None:
    await store.reserve("acme", "a", 800_000, lease_s=60)
    await store.settle("acme", "a", 800_000)
    with pytest.raises(BudgetExceeded):
        await store.reserve("acme", "b", 300_000, lease_s=60)
    clock.advance(hours=1, minutes=1)  # 2026-04-01 00:01: new day and new month
    status = await store.status("acme")
    assert status.daily_spent_micros == status.monthly_spent_micros == 0
    assert status.daily_resets_at == datetime(2026, 4, 2, tzinfo=UTC)
    assert status.monthly_resets_at == datetime(2026, 5, 1, tzinfo=UTC)
    await store.reserve("acme", "b", 300_000, lease_s=60)


async def test_month_keeps_counting_across_days(store: BudgetStore, clock: FakeClock) -> None:
    clock.now = datetime(2026, 4, 10, 12, tzinfo=UTC)
    for day in range(3):
        await store.reserve("acme", f"d{day}", 900_000, lease_s=60)
        await store.settle("acme", f"d{day}", 900_000)
        clock.advance(days=1)
    status = await store.status("acme")
    assert status.daily_spent_micros == 0
    assert status.monthly_spent_micros == 2_700_000
    with pytest.raises(BudgetExceeded) as info:
        await store.reserve("acme", "d3", 400_000, lease_s=60)
    assert info.value.window == "monthly"


async def test_set_limits_reset_and_list(store: BudgetStore) -> None:
    await store.set_limits("zeta", daily_micros=2_000_000, monthly_micros=9_000_000)
    await store.reserve("acme", "a", 100_000, lease_s=60)
    await store.settle("acme", "a", 100_000)
    assert [s.tenant for s in await store.tenants()] == ["acme", "zeta"]
    await store.reset("acme")
    acme = await store.status("acme")
    assert acme.daily_spent_micros == 0
    assert acme.daily_limit_micros == 1_000_000
    zeta = await store.status("zeta")
    assert (zeta.daily_limit_micros, zeta.monthly_limit_micros) == (2_000_000, 9_000_000)


async def test_tenants_are_independent(store: BudgetStore) -> None:
    await store.reserve("T1|E1", "a", 1_000_000, lease_s=60)
    status = await store.reserve("T2|E2", "a", 1_000_000, lease_s=60)
    assert status.held_micros == 1_000_000


async def test_concurrent_reservations_never_overspend(redis_server: EmbeddedRedis) -> None:
    """1,000 reservations at once against a limit that fits 37 of them."""
    client = connect_redis(redis_server.url)
    await client.flushdb()
    store = RedisBudgetStore(
        client, default_daily_micros=3_700_000, default_monthly_micros=10_000_000
    )

    async def one(i: int) -> bool:
        try:
            await store.reserve("acme", f"job-{i}", 100_000, lease_s=60)
        except BudgetExceeded:
            return False
        return True

    accepted = await asyncio.gather(*(one(i) for i in range(1000)))
    assert sum(accepted) == 37
    status = await store.status("acme")
    assert status.held_micros == 3_700_000
    assert status.remaining_micros == 0
    settles = [store.settle("acme", f"job-{i}", 100_000) for i, ok in enumerate(accepted) if ok]
    assert all(await asyncio.gather(*settles))
    after = await store.status("acme")
    assert after.daily_spent_micros == 3_700_000
    assert after.held_micros == 0
    await client.aclose()


async def test_a_tenant_is_known_once_charged_or_given_limits_not_when_looked_at(
    store: BudgetStore,
) -> None:
    """``fusion budget show <typo>`` must be able to say there is no such record."""
    await store.status("typo")
    assert not await store.known("typo")
    assert [s.tenant for s in await store.tenants()] == []
    await store.set_limits("zeta", daily_micros=2_000_000, monthly_micros=9_000_000)
    await store.reserve("acme", "a", 100_000, lease_s=60)
    assert await store.known("zeta")
    assert await store.known("acme")
    assert not await store.known("typo")
