"""UTC windows: ids and reset times, including year end and timezone-aware inputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from fusion_engine.budget.windows import windows_at


def test_year_end_rolls_into_january() -> None:
    w = windows_at(datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC))
    assert (w.day, w.month) == ("20261231", "202612")
    assert w.daily_resets_at == datetime(2027, 1, 1, tzinfo=UTC)
    assert w.monthly_resets_at == datetime(2027, 1, 1, tzinfo=UTC)


def test_other_timezones_are_read_as_the_same_instant_in_utc() -> None:
    tokyo = timezone(timedelta(hours=9))
    w = windows_at(datetime(2026, 3, 1, 8, 0, tzinfo=tokyo))  # 2026-02-28 23:00 UTC
    assert (w.day, w.month) == ("20260228", "202602")
    assert w.monthly_resets_at == datetime(2026, 3, 1, tzinfo=UTC)


def test_a_naive_time_is_utc() -> None:
    assert windows_at(datetime(2028, 2, 29, 12)).daily_resets_at == datetime(2028, 3, 1, tzinfo=UTC)
