"""The per-fusion spend guard: no model call starts unless the budget hold covers its worst case.

A fusion's quote counts one call per stage. Everything else that can spend — a judge's
corrective retry, a judge, writer or panel fallback, a re-run after a crash — is covered here,
call by call: before each call, ``Caller`` (``panel.py``) reserves ``call_ceiling`` (the most the
call can be charged: its prompt over-estimated, its whole ``max_tokens``, the model's price or
the unpriced allowance) against the fusion's ``Allowance``; when the call ends, the reservation
is replaced by what the call really cost (a failed call that reported nothing costs 0). When
the allowance is short, it asks its ``TopUp`` to grow the budget hold first; if that is refused
the call is not made and fails as ``CallOverBudget``, which the stages treat like any failed
call: a panel member fails (quorum decides), the judge gives no analysis (a labelled degraded
answer), the writer ends the fusion with the budget reason.

So recorded spend stays within the hold, and the hold within the tenant's limits: the client
cuts every stream at ``max_tokens``, the prompt estimate over-counts (``tokens.py``), and
``Caller`` never charges a call more than the ceiling it reserved (any excess a provider bills
is logged and is the operator's cost).

Retries: ``RetryingClient`` makes the attempts of one call one after another, and an attempt
that fails reports no usage, so the one reservation, held from before the first attempt until
the last one ends, covers each attempt in turn with the most any of them can be charged.
Reserving ``(1 + max_retries)`` ceilings up front would refuse calls that fit, for spend that is
never recorded; reserving per attempt would need this per-fusion guard inside the process-wide
client stack.

``UNLIMITED`` is the guard for runs that no tenant pays for (``fusion ask`` without
``--tenant``, evals, which keep their own cap): it records nothing and refuses nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol

from fusion_engine.budget.base import BudgetStore
from fusion_engine.errors import BudgetExceeded, CallOverBudget
from fusion_engine.llm.base import ChatRequest, PriceSource
from fusion_engine.llm.pricing import UNPRICED_PRICE, tokens_cost
from fusion_engine.tokens import estimate_messages, estimate_schema

__all__ = ["UNLIMITED", "Allowance", "SpendGuard", "TopUp", "Unlimited", "call_ceiling"]

TopUp = Callable[[int], Awaitable[object]]
"""Grow the budget hold so it covers ``total`` micro-dollars for this run; raise
``BudgetExceeded`` when the budget refuses."""


class SpendGuard(Protocol):
    """What ``Caller`` asks before and after every model call of one fusion."""

    async def reserve(self, model: str, micros: int) -> None:
        """Cover a call to ``model`` that can cost up to ``micros``, or raise ``CallOverBudget``."""
        ...

    def release(self, reserved: int, spent: int) -> None:
        """The call covered by ``reserved`` has ended, having cost ``spent``."""
        ...


class Unlimited:
    """The guard of a run no budget pays for: every call is covered."""

    async def reserve(self, model: str, micros: int) -> None:
        return None

    def release(self, reserved: int, spent: int) -> None:
        return None


UNLIMITED = Unlimited()


async def call_ceiling(request: ChatRequest, prices: PriceSource) -> int:
    """The most one call can be charged: the prompt (and any schema) over-estimated as the quote
    does, the whole ``max_tokens``, at the model's price or the unpriced allowance."""
    prompt = estimate_messages(request.messages) + estimate_schema(request.json_schema)
    price = await prices.price(request.model) or UNPRICED_PRICE
    return tokens_cost(prompt, request.max_tokens, price)


class Allowance:
    """One fusion's share of a budget hold: ``micros`` to start with (the quote), grown by
    ``top_up`` when a call needs more. Safe for concurrent calls (the panel runs in parallel).

    ``committed`` is what finished calls cost plus what calls in flight reserved; a call starts
    only when ``committed`` plus its ceiling fits the allowance. ``spent_micros`` is what the
    finished calls cost."""

    def __init__(self, micros: int, top_up: TopUp) -> None:
        self.micros = micros
        self.committed = 0
        self.spent_micros = 0
        self._top_up = top_up
        self._lock = asyncio.Lock()

    @classmethod
    async def held(
        cls,
        budgets: BudgetStore,
        tenant: str,
        hold_id: str,
        quote_micros: int,
        *,
        spent_before: int = 0,
        lease_s: float,
    ) -> Allowance:
        """Reserve ``spent_before + quote_micros`` under ``hold_id`` (growing a live hold, or
        ``BudgetExceeded``) and return the allowance whose top-ups grow that same hold.

        ``spent_before`` is what earlier attempts of the same job were recorded as spending:
        the job is settled with their spend plus this run's, so one hold covers all of it."""

        async def top_up(total: int) -> None:
            await budgets.reserve(tenant, hold_id, spent_before + total, lease_s=lease_s)

        await top_up(quote_micros)
        return cls(quote_micros, top_up)

    async def reserve(self, model: str, micros: int) -> None:
        async with self._lock:
            needed = self.committed + micros
            if needed > self.micros:
                try:
                    await self._top_up(needed)
                except BudgetExceeded as exc:
                    raise CallOverBudget(model, exc) from exc
                self.micros = needed
            self.committed += micros  # not ``needed``: calls may have ended during the top-up

    def release(self, reserved: int, spent: int) -> None:
        self.committed += spent - reserved
        self.spent_micros += spent
