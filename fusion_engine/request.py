"""What a fusion is asked to do: ``FusionRequest`` (serializable; it travels inside jobs)."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fusion_engine.errors import InputError
from fusion_engine.pools import PoolSpec

__all__ = ["MAX_QUESTION_CHARS", "ConversationTurn", "FusionRequest", "validate_question"]

MAX_QUESTION_CHARS = 8_000
"""Longest question accepted. Past this, the user gets a clear error and nothing is called."""

MAX_HISTORY_CHARS = 24_000


def validate_question(question: str) -> str:
    """Strip and check a question; raise ``InputError`` with a fixable message."""
    text = question.strip()
    if not text:
        raise InputError("The question is empty. Ask something, e.g. `/fuse why is the sky blue?`")
    if len(text) > MAX_QUESTION_CHARS:
        raise InputError(
            f"The question is {len(text):,} characters; the limit is {MAX_QUESTION_CHARS:,}. "
            "Shorten it or summarise the material first."
        )
    return text


class ConversationTurn(BaseModel):
    """One earlier turn of a thread, given to the panel as context for a follow-up."""

    model_config = ConfigDict(frozen=True)

    role: Literal["user", "assistant"]
    content: str


class FusionRequest(BaseModel):
    """A question, the resolved pool to ask, and optional earlier turns of the conversation."""

    model_config = ConfigDict(frozen=True)

    question: str
    pool: PoolSpec
    history: tuple[ConversationTurn, ...] = ()
    request_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    tenant: str | None = None
    user: str | None = None

    @field_validator("question")
    @classmethod
    def _question(cls, value: str) -> str:
        try:
            return validate_question(value)
        except InputError as exc:
            raise ValueError(str(exc)) from exc

    @field_validator("history")
    @classmethod
    def _history(cls, value: tuple[ConversationTurn, ...]) -> tuple[ConversationTurn, ...]:
        # Keep the most recent turns that fit; older context is dropped, never the question.
        kept: list[ConversationTurn] = []
        total = 0
        for turn in reversed(value):
            total += len(turn.content)
            if total > MAX_HISTORY_CHARS:
                break
            kept.append(turn)
        return tuple(reversed(kept))

    @classmethod
    def create(cls, question: str, pool: PoolSpec, **kwargs: object) -> FusionRequest:
        """Build a request, raising ``InputError`` (not a pydantic error) for a bad question."""
        return cls.model_validate({"question": validate_question(question), "pool": pool, **kwargs})
