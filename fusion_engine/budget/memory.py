"""An in-memory ``BudgetStore`` for tests and single-process tools.

Same rules as the Redis store (leases, holds that grow, idempotent settle, late settle still
charges, defaults from the config until limits are set) with none of the infrastructure; one
asyncio lock stands in for Lua's atomicity. It is a fake: state lives only as long as the object.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from fusion_engine.budget.base import BudgetStatus
from fusion_engine.budget.redis_store import budget_exceeded
from fusion_engine.budget.windows import Clock, Windows, system_clock, windows_at

__all__ = ["MemoryBudgetStore"]


@dataclass
class _Tenant:
    limits: tuple[int, int] | None = None
    daily: dict[str, int] = field(default_factory=dict)
    monthly: dict[str, int] = field(default_factory=dict)
    holds: dict[str, tuple[int, int]] = field(default_factory=dict)
    """hold id -> (micros, lease expiry epoch ms)"""
    settled: dict[str, int] = field(default_factory=dict)


class MemoryBudgetStore:
    """A ``BudgetStore`` held in a dict. ``settled`` records every settle, for assertions."""

    def __init__(
        self,
        *,
        default_daily_micros: int = 5_000_000,
        default_monthly_micros: int = 50_000_000,
        clock: Clock = system_clock,
    ) -> None:
        self._defaults = (default_daily_micros, default_monthly_micros)
        self._clock = clock
        self._tenants: dict[str, _Tenant] = {}
        self._lock = asyncio.Lock()

    def _tenant(self, name: str) -> _Tenant:
        return self._tenants.setdefault(name, _Tenant())

    def _status(self, name: str, w: Windows) -> BudgetStatus:
        t = self._tenants.get(name) or _Tenant()  # looking does not create a record
        daily_limit, monthly_limit = t.limits or self._defaults
        held = sum(m for m, expiry in t.holds.values() if expiry > w.now_ms)
        return BudgetStatus(
            tenant=name,
            daily_limit_micros=daily_limit,
            monthly_limit_micros=monthly_limit,
            daily_spent_micros=t.daily.get(w.day, 0),
            monthly_spent_micros=t.monthly.get(w.month, 0),
            held_micros=held,
            daily_resets_at=w.daily_resets_at,
            monthly_resets_at=w.monthly_resets_at,
        )

    async def reserve(
        self, tenant: str, hold_id: str, micros: int, *, lease_s: float
    ) -> BudgetStatus:
        if micros < 0:
            raise ValueError("a reservation cannot be negative")
        async with self._lock:
            w = windows_at(self._clock())
            t = self._tenant(tenant)
            t.holds = {h: v for h, v in t.holds.items() if v[1] > w.now_ms}
            expiry = w.now_ms + int(lease_s * 1000)
            if hold_id in t.settled:
                return self._status(tenant, w)
            held = t.holds.get(hold_id)
            if held is not None and held[0] >= micros:
                t.holds[hold_id] = (held[0], expiry)
                return self._status(tenant, w)
            status = self._status(tenant, w)
            increase = micros - (held[0] if held is not None else 0)
            if status.remaining_micros < increase:
                raise budget_exceeded(status, increase, more=held is not None)
            t.holds[hold_id] = (micros, expiry)
            return self._status(tenant, w)

    async def settle(self, tenant: str, hold_id: str, actual_micros: int) -> bool:
        async with self._lock:
            w = windows_at(self._clock())
            t = self._tenant(tenant)
            if hold_id in t.settled:
                return False
            actual = max(0, actual_micros)
            t.settled[hold_id] = actual
            t.holds.pop(hold_id, None)
            t.daily[w.day] = t.daily.get(w.day, 0) + actual
            t.monthly[w.month] = t.monthly.get(w.month, 0) + actual
            return True

    async def extend(self, tenant: str, hold_id: str, *, lease_s: float) -> None:
        async with self._lock:
            w = windows_at(self._clock())
            t = self._tenant(tenant)
            if hold_id in t.holds:
                t.holds[hold_id] = (t.holds[hold_id][0], w.now_ms + int(lease_s * 1000))

    async def status(self, tenant: str) -> BudgetStatus:
        return self._status(tenant, windows_at(self._clock()))

    async def set_limits(self, tenant: str, *, daily_micros: int, monthly_micros: int) -> None:
        if daily_micros < 0 or monthly_micros < 0:
            raise ValueError("limits cannot be negative")
        self._tenant(tenant).limits = (daily_micros, monthly_micros)

    async def reset(self, tenant: str) -> None:
        w = windows_at(self._clock())
        t = self._tenant(tenant)
        t.daily.pop(w.day, None)
        t.monthly.pop(w.month, None)

    async def tenants(self) -> list[BudgetStatus]:
        w = windows_at(self._clock())
        return [self._status(name, w) for name in sorted(self._tenants)]

    async def known(self, tenant: str) -> bool:
        return tenant in self._tenants

    def settled(self, tenant: str) -> dict[str, int]:
        """Every hold settled for ``tenant`` and what it was charged (a test helper)."""
        return dict(self._tenant(tenant).settled)
