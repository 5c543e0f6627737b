"""The ``BudgetStore`` seam: reserve a quote before running, settle the actual cost after.

Amounts are integer micro-dollars. Implementations must be atomic under concurrency (a tenant
can never spend past either limit) and ``settle`` must be idempotent per ``hold_id``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict

__all__ = ["BudgetStatus", "BudgetStore"]


class BudgetStatus(BaseModel):
    """A tenant's limits and spend in the current daily and monthly windows (UTC)."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    daily_limit_micros: int
    monthly_limit_micros: int
    daily_spent_micros: int
    monthly_spent_micros: int
    held_micros: int
    """Reserved by fusions still running."""
    daily_resets_at: datetime
    monthly_resets_at: datetime

    @property
    def daily_remaining_micros(self) -> int:
        return max(0, self.daily_limit_micros - self.daily_spent_micros - self.held_micros)

    @property
    def monthly_remaining_micros(self) -> int:
        return max(0, self.monthly_limit_micros - self.monthly_spent_micros - self.held_micros)

    @property
    def remaining_micros(self) -> int:
        return min(self.daily_remaining_micros, self.monthly_remaining_micros)


class BudgetStore(Protocol):
    async def reserve(
        self, tenant: str, hold_id: str, micros: int, *, lease_s: float
    ) -> BudgetStatus:
        """Hold ``micros`` for ``hold_id`` if both windows can cover it, else ``BudgetExceeded``.

        Reserving an existing, live ``hold_id`` again with the same or a smaller amount only
        renews its lease (a re-delivered job). With a larger amount the hold grows: only the
        increase is checked against the limits, and a refusal (``BudgetExceeded`` naming the
        increase) leaves the hold as it was. A settled ``hold_id`` is never held again."""
        ...

    async def settle(self, tenant: str, hold_id: str, actual_micros: int) -> bool:
        """Record the real spend and drop the hold. True the first time, False on repeats.

        A settle after the hold's lease expired still records the spend."""
        ...

    async def extend(self, tenant: str, hold_id: str, *, lease_s: float) -> None:
        """Keep a running job's hold alive."""
        ...

    async def status(self, tenant: str) -> BudgetStatus: ...

    async def set_limits(self, tenant: str, *, daily_micros: int, monthly_micros: int) -> None: ...

    async def reset(self, tenant: str) -> None:
        """Forget the current windows' spend (limits stay)."""
        ...

    async def tenants(self) -> list[BudgetStatus]: ...
