"""Jobs: a ``FusionJob`` is a request plus where to answer; queues and responders move them.

A ``FusionJob`` is plain serializable data, so any worker process can run it and reply. Its
``key`` is the platform's event id: enqueueing the same key twice runs it once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from fusion_engine.budget.base import BudgetStatus
from fusion_engine.errors import FusionError
from fusion_engine.events import FusionEvent
from fusion_engine.request import FusionRequest
from fusion_engine.result import FusionResult

__all__ = ["FusionJob", "JobQueue", "ReplyTarget", "Responder"]


class ReplyTarget(BaseModel):
    """Where and how to answer. Platform-specific ids are opaque strings to the core."""

    model_config = ConfigDict(frozen=True)

    platform: Literal["slack", "discord"]
    tenant: str
    """The budget owner: ``enterprise_id|team_id`` (Slack), a guild id (Discord), a CLI name."""
    channel_id: str | None = None
    thread_id: str | None = None
    """Slack ``thread_ts`` or Discord thread id, when the answer belongs in a thread."""
    user_id: str | None = None
    message_id: str | None = None
    """A placeholder message to update in place (Slack ``ts``, Discord message id)."""
    response_url: str | None = None
    """Slack's ``response_url`` for slash commands (works when the bot is not in the channel)."""
    interaction_token: str | None = None
    application_id: str | None = None
    extra: dict[str, str] = Field(default_factory=dict)


class FusionJob(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str = Field(min_length=1, max_length=200)
    request: FusionRequest
    reply: ReplyTarget
    quote_micros: int = Field(ge=0)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class JobQueue(Protocol):
    async def enqueue(self, job: FusionJob) -> bool:
        """Queue ``job``; False when a job with the same key was already queued (a retry)."""
        ...


class Responder(Protocol):
    """How a job's progress and outcome reach the user. Must be safe to call again for the same
    job after a crash (update in place, or check what was already posted)."""

    async def on_event(self, job: FusionJob, event: FusionEvent) -> None: ...

    async def on_result(
        self, job: FusionJob, result: FusionResult, budget: BudgetStatus | None
    ) -> None: ...

    async def on_error(self, job: FusionJob, error: FusionError) -> None: ...
