"""Money is integer micro-dollars everywhere; floats appear only at the edges (display, JSON).

Prices are held as micro-dollars per million tokens, so a price like $0.15 / M tokens stays an
integer (150_000) and cost arithmetic never rounds until the last step, which rounds up: a quote
or a charge is never less than the true amount.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal, InvalidOperation

__all__ = ["MICROS_PER_USD", "cost_micros", "format_usd", "usd_to_micros"]

MICROS_PER_USD = 1_000_000
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


def cost_micros(tokens: int, micros_per_mtok: int) -> int:
    """Cost of ``tokens`` at a price of ``micros_per_mtok`` micro-dollars per million tokens."""
    return -((-tokens * micros_per_mtok) // _TOKENS_PER_PRICE_UNIT)


def format_usd(micros: int) -> str:
    """Human-readable dollars: ``$0.0123`` for small amounts, ``$12.35`` for large ones."""
    usd = Decimal(micros) / MICROS_PER_USD
    if abs(usd) >= 1:
        return f"${usd:,.2f}"
    if usd == 0:
        return "$0.00"
    return f"${usd:.4f}"
