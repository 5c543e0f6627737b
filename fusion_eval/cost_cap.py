"""The eval's own spending cap: quote each step before running it, stop before passing the cap.

An eval can ask for hundreds of calls, so ``--max-usd`` is enforced up front, per question: the
runner quotes the question's fusion (the engine's own conservative quote) plus every judge call
it will make (prompt tokens estimated generously from characters, completion tokens at the
judge's ``max_tokens``, priced from the ``PriceSource``), and runs the question only when what
this run has already spent plus that quote stays within the cap. Unpriced models get a fixed
conservative allowance per call, and are listed in the report.

The cap covers what *this invocation* spends. Work read back from the resume cache is free and is
reported separately, so an interrupted eval can be continued with the same ``--max-usd``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fusion_engine.llm.base import PriceSource
from fusion_engine.money import cost_micros

__all__ = [
    "UNPRICED_CALL_ALLOWANCE_MICROS",
    "CostCap",
    "estimate_call_micros",
]

UNPRICED_CALL_ALLOWANCE_MICROS = 20_000
"""$0.02 per call for a model with no known price: above any judge call of a few thousand tokens
on today's mid-priced models, so the cap errs on the side of stopping early."""

_CHARS_PER_TOKEN_LOW = 3
"""Real text averages ~4 characters a token; 3 over-counts, so quotes stay upper bounds."""


def _prompt_tokens(chars: int) -> int:
    return chars // _CHARS_PER_TOKEN_LOW + 16


async def estimate_call_micros(
    prices: PriceSource, model: str, *, prompt_chars: int, max_tokens: int
) -> tuple[int, bool]:
    """Upper estimate of one call, and whether the model had a known price."""
    price = await prices.price(model)
    if price is None:
        return UNPRICED_CALL_ALLOWANCE_MICROS, False
    return (
        cost_micros(_prompt_tokens(prompt_chars), price.prompt_per_mtok)
        + cost_micros(max_tokens, price.completion_per_mtok),
        True,
    )


@dataclass
class CostCap:
    """Running spend of one eval invocation against an optional cap (micro-dollars).

    Questions running at the same time each hold a reservation of their quote until they end,
    so a new question starts only if it fits beside everything that might still be spent."""

    max_micros: int | None = None
    spent_micros: int = 0
    reserved_micros: int = 0
    unpriced: set[str] = field(default_factory=set)

    def fits(self, quote_micros: int) -> bool:
        """Whether a step quoted at ``quote_micros`` can run without passing the cap."""
        if self.max_micros is None:
            return True
        return self.spent_micros + self.reserved_micros + quote_micros <= self.max_micros

    def reserve(self, micros: int) -> None:
        self.reserved_micros += micros

    def release(self, micros: int) -> None:
        self.reserved_micros -= micros

    def charge(self, micros: int) -> None:
        self.spent_micros += micros
