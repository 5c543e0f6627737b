"""The slice of ``fusion_engine.service.FusionService`` a chat adapter calls, as a Protocol.

Adapters type against this seam rather than the concrete service, so their tests can hand in
a scripted stand-in, and both Slack and Discord share one definition.
"""

from __future__ import annotations

from typing import Protocol

from fusion_engine.budget.base import BudgetStatus
from fusion_engine.jobs.base import ReplyTarget
from fusion_engine.request import FusionRequest
from fusion_engine.result import Quote

__all__ = ["Accepted", "FusionService"]


class Accepted(Protocol):
    """What ``FusionService.submit`` returns, as far as an adapter cares."""

    @property
    def quote(self) -> Quote: ...

    @property
    def duplicate(self) -> bool: ...


class FusionService(Protocol):
    async def submit(self, key: str, request: FusionRequest, reply: ReplyTarget) -> Accepted:
        """Queue a job, or raise ``InputError`` / ``RefusedError`` / ``UnavailableError``
        (nothing charged)."""
        ...

    async def budget(self, tenant: str) -> BudgetStatus: ...

    async def set_limits(
        self, tenant: str, *, daily_usd: float, monthly_usd: float
    ) -> BudgetStatus: ...
