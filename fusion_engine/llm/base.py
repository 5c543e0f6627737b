"""The ``ModelClient`` seam: one OpenAI-compatible chat call, plain or streamed.

Everything above this seam speaks these frozen domain types; vendor JSON is parsed into private
wire models inside the concrete client and never leaves it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ChatMessage",
    "ChatRequest",
    "Completion",
    "CostSource",
    "ModelClient",
    "ModelPrice",
    "PriceSource",
    "TextSink",
    "Usage",
]


class ChatMessage(BaseModel):
    model_config = ConfigDict(frozen=True)

    role: Literal["system", "user", "assistant"]
    content: str


class ChatRequest(BaseModel):
    """One chat completion request to one model."""

    model_config = ConfigDict(frozen=True)

    model: str
    messages: tuple[ChatMessage, ...]
    max_tokens: int = Field(gt=0)
    temperature: float | None = None
    json_schema: dict[str, Any] | None = None
    """When set, ask for JSON-schema structured output (``response_format``) with this schema.
    Endpoints that reject it are retried by the caller without it."""
    timeout_s: float = Field(default=90.0, gt=0)
    max_retries: int | None = Field(default=None, ge=0, le=6)
    """Retries for retryable failures, for clients wrapped in ``RetryingClient``; ``None``
    leaves the wrapper's default."""


CostSource = Literal["reported", "priced", "unknown", "mixed", "estimated"]
"""Where a ``Usage``'s cost came from."""


class Usage(BaseModel):
    """Tokens and cost of one call (or a sum of calls). Cost is integer micro-dollars."""

    model_config = ConfigDict(frozen=True)

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_micros: int = 0
    cost_source: CostSource = "unknown"
    """``reported``: the endpoint's ``usage.cost``; ``priced``: tokens × ``/models`` pricing;
    ``estimated``: tokens × the conservative allowance for a model with no known price."""

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        if self.cost_source == other.cost_source:
            source = self.cost_source
        elif self.total_tokens == 0 and self.cost_micros == 0:
            source = other.cost_source
        elif other.total_tokens == 0 and other.cost_micros == 0:
            source = self.cost_source
        else:
            source = "mixed"
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cost_micros=self.cost_micros + other.cost_micros,
            cost_source=source,
        )


class Completion(BaseModel):
    """A finished answer. ``text`` is never empty: an empty answer is a ``ModelOutputError``."""

    model_config = ConfigDict(frozen=True)

    model: str
    """The slug that was asked for."""
    served_by: str
    """The model that actually answered, as the endpoint reports it."""
    text: str
    usage: Usage
    finish_reason: str | None = None
    truncated: bool = False
    """The client cut the answer at the request's ``max_tokens`` (``finish_reason`` is then
    ``"length"``): the endpoint sent more than was asked for, or would have."""
    latency_s: float = 0.0


TextSink = Callable[[str], Awaitable[None]]
"""Receives text deltas as a streamed answer is written."""


class ModelClient(Protocol):
    """One chat call. Raises ``ModelCallError`` subclasses for failures that mean "this model
    failed"; anything else is a bug and propagates."""

    async def complete(self, request: ChatRequest, on_text: TextSink | None = None) -> Completion:
        """Run ``request``; when ``on_text`` is given, stream and feed it each text delta."""
        ...


class ModelPrice(BaseModel):
    """Price of one model in integer micro-dollars per million tokens."""

    model_config = ConfigDict(frozen=True)

    prompt_per_mtok: int = Field(ge=0)
    completion_per_mtok: int = Field(ge=0)
    context_length: int | None = None


class PriceSource(Protocol):
    """Where prices come from (``/models``, cached). ``None`` means the model is unknown."""

    async def price(self, model: str) -> ModelPrice | None: ...
