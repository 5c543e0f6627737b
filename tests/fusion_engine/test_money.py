from __future__ import annotations

from decimal import Decimal

import pytest

from fusion_engine.errors import InputError
from fusion_engine.money import (
    MAX_LIMIT_MICROS,
    cost_micros,
    format_usd,
    limit_to_micros,
    usd_to_micros,
)


@pytest.mark.parametrize(
    ("usd", "micros"),
    [(0, 0), (1, 1_000_000), ("0.000003", 3), (0.0000001, 1), (Decimal("12.5"), 12_500_000)],
)
def test_usd_to_micros_rounds_up(usd: object, micros: int) -> None:
    assert usd_to_micros(usd) == micros  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [-1, "nan", "inf", "abc"])
def test_usd_to_micros_rejects_bad_amounts(bad: object) -> None:
    with pytest.raises(ValueError, match="not a USD amount"):
        usd_to_micros(bad)  # type: ignore[arg-type]


def test_cost_is_integer_and_rounds_up() -> None:
    # $3 / M tokens = 3_000_000 micros per M tokens -> 3 micros per token
    assert cost_micros(1000, 3_000_000) == 3000
    # $0.15 / M tokens for 1 token is 0.15 micros -> charged as 1
    assert cost_micros(1, 150_000) == 1
    assert cost_micros(0, 150_000) == 0


def test_format_usd_shows_the_stored_amount_without_rounding() -> None:
    assert format_usd(0) == "$0.00"
    assert format_usd(5_000) == "$0.0050"
    assert format_usd(12_345) == "$0.012345"
    assert format_usd(12_345_678) == "$12.345678"
    assert format_usd(2_000_000) == "$2.00"
    assert format_usd(1_234_500_000) == "$1,234.50"
    assert format_usd(-2_400) == "-$0.0024"


def test_what_is_left_is_never_shown_rounded_up() -> None:
    """$2.00 was shown left after spending $0.0024 of $2: the spend and what is left, as
    shown, must add up to the limit."""
    assert format_usd(2_400) == "$0.0024"
    assert format_usd(2_000_000 - 2_400) == "$1.9976"
    assert format_usd(1_000_000 - 1) == "$0.999999"


def test_a_limit_is_capped_at_the_maximum() -> None:
    assert MAX_LIMIT_MICROS == 1_000_000_000_000
    assert limit_to_micros(1_000_000) == MAX_LIMIT_MICROS
    assert limit_to_micros("0") == 0
    for bad in (1_000_000.000001, 1e13, -1, "nan", "inf", "x"):
        with pytest.raises(InputError, match=r"from 0 to \$1,000,000\.00"):
            limit_to_micros(bad)
