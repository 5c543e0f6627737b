"""Money is integer micro-dollars everywhere; floats appear only at the edges (display, JSON).

Prices are held as micro-dollars per million tokens, so a price like $0.15 / M tokens stays an
integer (150_000) and cost arithmetic never rounds until the last step, which rounds up: a quote
or a charge is never less than the true amount.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal, InvalidOperation

from fusion_engine.errors import InputError

__all__ = [
    "MAX_LIMIT_MICROS",
    "MAX_LIMIT_USD",
    "MICROS_PER_USD",
    "cost_micros",
    "format_usd",
    "limit_to_micros",
    "usd_to_micros",
]

MICROS_PER_USD = 1_000_000
MAX_LIMIT_USD = 1_000_000
"""The largest daily or monthly limit a tenant can be given. Far above any real team's budget,
and far below where the budget scripts' arithmetic stops being exact: spent + held + quote
stays well inside both Redis' 64-bit integers and Lua's 2**53-exact doubles."""
MAX_LIMIT_MICROS = MAX_LIMIT_USD * MICROS_PER_USD
_TOKENS_PER_PRICE_UNIT = 1_000_000


def usd_to_micros(usd: float | str | Decimal) -> int:
    """Convert a USD amount to micro-dollars, rounding up. Rejects negative or non-finite values."""
    try:
        value = Decimal(str(usd))
    except InvalidOperation as exc:
        raise ValueError(f"not a USD amount: {usd!r}") from exc
    if not value.is_finite() or value < 0:
        raise ValueError(f"not a USD amount: {usd!r}")
    return int((value * MICROS_PER_USD).to_integral_value(rounding=ROUND_CEILING))


def limit_to_micros(usd: float | str | Decimal, *, option: str | None = None) -> int:
    """A budget limit in micro-dollars; ``InputError`` for anything outside 0 to
    ``MAX_LIMIT_USD`` (a huge limit would overflow the budget scripts and read as negative).
    ``option`` names what the user typed (``--daily``) in the message."""
    try:
        micros = usd_to_micros(usd)
    except ValueError:
        micros = -1
    if not 0 <= micros <= MAX_LIMIT_MICROS:
        what, example = (f"`{option}`", f"`{option} 2.50`") if option else ("A limit", "2.50")
        raise InputError(
            f"{what} takes an amount in USD from 0 to {format_usd(MAX_LIMIT_MICROS)}, "
            f"e.g. {example} (got {usd})."
        )
    return micros


def cost_micros(tokens: int, micros_per_mtok: int) -> int:
    """Cost of ``tokens`` at a price of ``micros_per_mtok`` micro-dollars per million tokens."""
    return -((-tokens * micros_per_mtok) // _TOKENS_PER_PRICE_UNIT)


def format_usd(micros: int) -> str:
    """Dollars exactly as stored, never rounded: cents at least (``$2.00``, ``$1,234.50``), a
    hundredth of a cent under a dollar (``$0.0050``), and any further micro-dollar digit that is
    not zero (``$1.9976``, ``$0.002431``). So a spend and what is left add up to the limit shown,
    and what is left is never shown as more than it is."""
    sign = "-" if micros < 0 else ""
    dollars, fraction = divmod(abs(micros), MICROS_PER_USD)
    if micros == 0:
        return "$0.00"
    least = 2 if dollars else 4
    digits = f"{fraction:06d}".rstrip("0").ljust(least, "0")
    return f"{sign}${dollars:,}.{digits}"
