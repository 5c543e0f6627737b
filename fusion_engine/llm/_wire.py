"""Private wire models for the OpenAI-compatible chat API, with the fields OpenRouter adds.

Vendor JSON is parsed into these and translated into the domain types in ``base.py`` inside
``openai_compat.py``/``providers.py``/``pricing.py``; nothing outside the ``llm`` package imports
them. OpenRouter's additions (``usage.cost``, error ``metadata``, ``/models`` pricing) are parsed
by every client, harmlessly absent elsewhere, and only ``OpenRouterProvider`` reads ``cost``.
They are lenient on purpose (unknown fields ignored, most fields optional) because
OpenAI-compatible servers differ in what they leave out, and strict where a wrong type would
mean a wrong answer.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class WireError(_Wire):
    """``{"code", "message", "metadata"}``. OpenRouter's code is the HTTP status as an int, but a
    mid-stream error may carry a provider's string code such as ``"server_error"``."""

    code: int | str | None = None
    message: str = ""
    metadata: dict[str, Any] | None = None


class WireErrorBody(_Wire):
    error: WireError


class WireUsage(_Wire):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None
    """OpenRouter's charge for the call, in USD (credits)."""


class WireDelta(_Wire):
    content: str | None = None
    reasoning: str | None = None
    reasoning_content: str | None = None
    """Some OpenAI-compatible servers (vLLM, DeepSeek) name the reasoning field this way."""


class WireStreamChoice(_Wire):
    delta: WireDelta = WireDelta()
    finish_reason: str | None = None


class WireChunk(_Wire):
    """One ``chat.completion.chunk`` of a stream."""

    model: str | None = None
    choices: list[WireStreamChoice] = []
    usage: WireUsage | None = None
    error: WireError | None = None


class WireMessage(_Wire):
    content: str | None = None
    reasoning: str | None = None
    reasoning_content: str | None = None


class WireChoice(_Wire):
    message: WireMessage = WireMessage()
    finish_reason: str | None = None


class WireCompletion(_Wire):
    """A whole ``chat.completion`` (non-streamed)."""

    model: str | None = None
    choices: list[WireChoice] = []
    usage: WireUsage | None = None
    error: WireError | None = None


class WirePricing(_Wire):
    """USD per token, as decimal strings (``"0.000003"``); ``"-1"`` means variable/unknown."""

    prompt: str | None = None
    completion: str | None = None


class WireModel(_Wire):
    id: str
    pricing: WirePricing | None = None
    context_length: int | None = None


class WireModelList(_Wire):
    data: list[WireModel] = []
