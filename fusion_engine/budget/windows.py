"""UTC budget windows: the calendar day and the calendar month a spend belongs to.

Budgets reset at midnight UTC and on the first of the month UTC, the same for every tenant, so
"when does it reset" has one answer that a chat message can state. A clock is injected so tests
can move time without sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = ["Clock", "Windows", "system_clock", "windows_at"]

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware."""


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Windows:
    """The day and month containing one instant, with their ids and reset times."""

    now: datetime
    day: str
    """``YYYYMMDD``"""
    month: str
    """``YYYYMM``"""
    daily_resets_at: datetime
    monthly_resets_at: datetime

    @property
    def now_ms(self) -> int:
        return int(self.now.timestamp() * 1000)


def windows_at(now: datetime) -> Windows:
    """The UTC windows containing ``now`` (a naive time is taken to be UTC)."""
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    month_start = day_start.replace(day=1)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    return Windows(
        now=now,
        day=f"{now:%Y%m%d}",
        month=f"{now:%Y%m}",
        daily_resets_at=day_start + timedelta(days=1),
        monthly_resets_at=next_month,
    )
