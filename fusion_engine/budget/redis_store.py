"""The Redis ``BudgetStore``: atomic holds and spend per tenant, in Lua.

Why Lua: "check spent + held + quote against both limits, then hold" must be one step, or two
concurrent reservations can both see room for one. Each script (``lua/*.lua``) runs atomically
on the server, so a tenant can never spend past a limit however many processes reserve at once.

A live hold can grow: reserving it again with a larger amount checks only the increase, so a
fusion that needs more than its quote (a retry, a fallback, a re-run after a crash) asks for
exactly that before it spends it, and a refusal leaves what was held untouched.

Holds carry a lease (epoch-ms score in a sorted set). Any reserve first drops expired holds, so
a crashed worker's hold frees itself; ``status`` counts only live holds. ``settle`` writes a
per-hold marker in the same script that adds the spend, so settling twice charges once, and
it adds the spend even if the lease already expired: the money was really spent.

Limits not set explicitly come from the config defaults at call time, so changing the config
changes every tenant that has no limits of its own.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import redis.asyncio as aioredis

from fusion_engine.budget.base import BudgetStatus
from fusion_engine.budget.windows import Clock, Windows, system_clock, windows_at
from fusion_engine.config import BudgetDefaults
from fusion_engine.errors import BudgetExceeded
from fusion_engine.keys import (
    DAILY_SPENT_TTL_S,
    DEDUPE_TTL_S,
    MONTHLY_SPENT_TTL_S,
    TENANTS,
    BudgetKeys,
)
from fusion_engine.money import usd_to_micros
from fusion_engine.redis_guard import redis_unavailable

__all__ = ["RedisBudgetStore", "budget_exceeded"]

_OVER_DAILY, _OVER_MONTHLY = -1, -2


def _script(name: str) -> str:
    return resources.files("fusion_engine.budget").joinpath("lua", name).read_text()


def budget_exceeded(
    status: BudgetStatus, quote_micros: int, *, more: bool = False
) -> BudgetExceeded:
    """The refusal for ``quote_micros`` given ``status``: names the tighter window. ``more``:
    ``quote_micros`` is what a live hold would have to grow by, not a whole quote."""
    # When the month is short, waiting for the daily reset would not help: name the month.
    window = "monthly" if status.monthly_remaining_micros < quote_micros else "daily"
    return BudgetExceeded(
        status.tenant,
        window=window,
        remaining_micros=status.remaining_micros,
        quote_micros=quote_micros,
        resets_at=status.monthly_resets_at if window == "monthly" else status.daily_resets_at,
        more=more,
    )


class RedisBudgetStore:
    """A ``BudgetStore`` on Redis. Raises ``UnavailableError`` when Redis cannot be reached."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        default_daily_micros: int,
        default_monthly_micros: int,
        clock: Clock = system_clock,
    ) -> None:
        self._redis = redis
        self._defaults = (default_daily_micros, default_monthly_micros)
        self._clock = clock
        self._reserve = redis.register_script(_script("reserve.lua"))
        self._settle = redis.register_script(_script("settle.lua"))
        self._status = redis.register_script(_script("status.lua"))

    @classmethod
    def from_defaults(
        cls, redis: aioredis.Redis, defaults: BudgetDefaults, *, clock: Clock = system_clock
    ) -> RedisBudgetStore:
        return cls(
            redis,
            default_daily_micros=usd_to_micros(defaults.daily_usd),
            default_monthly_micros=usd_to_micros(defaults.monthly_usd),
            clock=clock,
        )

    def _windows(self) -> Windows:
        return windows_at(self._clock())

    def _status_from(self, tenant: str, w: Windows, values: list[Any]) -> BudgetStatus:
        daily_limit, monthly_limit, daily_spent, monthly_spent, held = (int(v) for v in values)
        return BudgetStatus(
            tenant=tenant,
            daily_limit_micros=daily_limit,
            monthly_limit_micros=monthly_limit,
            daily_spent_micros=daily_spent,
            monthly_spent_micros=monthly_spent,
            held_micros=held,
            daily_resets_at=w.daily_resets_at,
            monthly_resets_at=w.monthly_resets_at,
        )

    async def reserve(
        self, tenant: str, hold_id: str, micros: int, *, lease_s: float
    ) -> BudgetStatus:
        if micros < 0:
            raise ValueError("a reservation cannot be negative")
        keys, w = BudgetKeys(tenant), self._windows()
        with redis_unavailable():
            code, *values = await self._reserve(
                keys=[
                    keys.limits,
                    keys.daily_spent(w.day),
                    keys.monthly_spent(w.month),
                    keys.hold_amounts,
                    keys.hold_leases,
                    keys.settled(hold_id),
                    TENANTS,
                ],
                args=[
                    hold_id,
                    micros,
                    w.now_ms + int(lease_s * 1000),
                    w.now_ms,
                    *self._defaults,
                    tenant,
                ],
            )
        *values, was_held = values
        status = self._status_from(tenant, w, values)
        if int(code) in (_OVER_DAILY, _OVER_MONTHLY):
            held = max(0, int(was_held))
            raise budget_exceeded(status, micros - held, more=int(was_held) >= 0)
        return status

    async def settle(self, tenant: str, hold_id: str, actual_micros: int) -> bool:
        keys, w = BudgetKeys(tenant), self._windows()
        with redis_unavailable():
            first = await self._settle(
                keys=[
                    keys.daily_spent(w.day),
                    keys.monthly_spent(w.month),
                    keys.hold_amounts,
                    keys.hold_leases,
                    keys.settled(hold_id),
                    TENANTS,
                ],
                args=[
                    hold_id,
                    max(0, actual_micros),
                    DAILY_SPENT_TTL_S,
                    MONTHLY_SPENT_TTL_S,
                    DEDUPE_TTL_S,
                    tenant,
                ],
            )
        return bool(first)

    async def extend(self, tenant: str, hold_id: str, *, lease_s: float) -> None:
        keys, w = BudgetKeys(tenant), self._windows()
        with redis_unavailable():
            await self._redis.zadd(
                keys.hold_leases, {hold_id: w.now_ms + int(lease_s * 1000)}, xx=True
            )

    async def status(self, tenant: str) -> BudgetStatus:
        keys, w = BudgetKeys(tenant), self._windows()
        with redis_unavailable():
            values = await self._status(
                keys=[
                    keys.limits,
                    keys.daily_spent(w.day),
                    keys.monthly_spent(w.month),
                    keys.hold_amounts,
                    keys.hold_leases,
                ],
                args=[w.now_ms, *self._defaults],
            )
        return self._status_from(tenant, w, values)

    async def set_limits(self, tenant: str, *, daily_micros: int, monthly_micros: int) -> None:
        if daily_micros < 0 or monthly_micros < 0:
            raise ValueError("limits cannot be negative")
        keys = BudgetKeys(tenant)
        with redis_unavailable():
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(keys.limits, mapping={"daily": daily_micros, "monthly": monthly_micros})
                pipe.sadd(TENANTS, tenant)
                await pipe.execute()

    async def reset(self, tenant: str) -> None:
        keys, w = BudgetKeys(tenant), self._windows()
        with redis_unavailable():
            await self._redis.delete(keys.daily_spent(w.day), keys.monthly_spent(w.month))

    async def tenants(self) -> list[BudgetStatus]:
        with redis_unavailable():
            members = await self._redis.smembers(TENANTS)
        names = sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)
        return [await self.status(name) for name in names]

    async def known(self, tenant: str) -> bool:
        with redis_unavailable():
            return bool(await self._redis.sismember(TENANTS, tenant))
