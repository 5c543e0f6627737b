"""The ``BudgetStore`` seam: reserve a quote before running, settle the actual cost after.

Amounts are integer micro-dollars. Implementations must be atomic under concurrency (a tenant
can never spend past either limit) and ``settle`` must be idempotent per ``hold_id``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from fusion_engine.money import format_usd

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

    @property
    def limits_warning(self) -> str | None:
        """Why the limits do not mean what they seem, when a daily limit above the monthly one
        was set. Allowed (every reservation checks both windows, so the monthly limit simply
        caps each day too), but almost always a slip, such as `--daily 100 --monthly 1`."""
        if self.daily_limit_micros <= self.monthly_limit_micros:
            return None
        return (
            f"The daily limit ({format_usd(self.daily_limit_micros)}) is above the monthly "
            f"limit ({format_usd(self.monthly_limit_micros)}), so at most "
            f"{format_usd(self.monthly_limit_micros)} can be spent in a day or a month."
        )


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

    async def known(self, tenant: str) -> bool:
        """True once ``tenant`` has been charged, held money or been given limits; until then
        ``status`` shows the defaults it would get (so a mistyped name is worth saying)."""
        ...
