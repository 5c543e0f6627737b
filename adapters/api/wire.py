"""OpenAI's chat-completions wire format, in and out: parse a request into a ``FusionRequest``,
render a ``FusionResult`` (or a stream of events) as ``chat.completion`` / ``.chunk`` JSON.

Translation only. Unknown OpenAI fields are ignored (clients send many); fields Fusion knows
but cannot honour (tools, ``n > 1``, images, audio) are refused with a message that says so,
rather than silently giving an answer that ignored them.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fusion_engine.config import FusionConfig, describe_problems
from fusion_engine.errors import InputError
from fusion_engine.money import MICROS_PER_USD
from fusion_engine.request import ConversationTurn, FusionRequest
from fusion_engine.result import FusionResult

__all__ = [
    "DEFAULT_MODEL",
    "MODEL_PREFIX",
    "ChatCompletionRequest",
    "chunk",
    "completion",
    "fusion_extension",
    "model_list",
    "parse_request",
    "usage",
]

DEFAULT_MODEL = "fusion"
MODEL_PREFIX = "fusion/"
_SYSTEM_PREFACE = "Instructions for this conversation:\n"
_UNSUPPORTED = {
    "tools": "tools (function calling)",
    "functions": "functions (function calling)",
    "tool_choice": "tool_choice",
    "audio": "audio output",
}


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[dict[str, Any]] | None = None


class ChatCompletionRequest(BaseModel):
    """The fields Fusion reads; everything else a client sends is ignored."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[_Message] = Field(min_length=1)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    n: int | None = None
    user: str | None = None

    @property
    def include_usage(self) -> bool:
        return bool((self.stream_options or {}).get("include_usage"))


def _text(message: _Message) -> str:
    if message.content is None or isinstance(message.content, str):
        return message.content or ""
    parts: list[str] = []
    for part in message.content:
        if part.get("type") != "text":
            raise InputError(
                f"Content parts of type {part.get('type')!r} are not supported; Fusion takes "
                "text only (send images and audio as text, or not at all)."
            )
        parts.append(str(part.get("text", "")))
    return "".join(parts)


def parse_request(
    body: object, config: FusionConfig
) -> tuple[ChatCompletionRequest, FusionRequest]:
    """The request and the fusion it asks for; ``InputError`` says what is wrong with it."""
    try:
        chat = ChatCompletionRequest.model_validate(body)
    except ValidationError as exc:
        raise InputError(f"Invalid request: {describe_problems(exc)}.") from None
    extra = chat.model_extra or {}
    for name, what in _UNSUPPORTED.items():
        if extra.get(name):
            raise InputError(f"{what} is not supported by Fusion models; remove `{name}`.")
    if chat.n is not None and chat.n != 1:
        raise InputError("n > 1 is not supported: a fusion writes one answer; send n=1.")
    pool = config.pool(_pool_name(chat.model))
    cap = chat.max_completion_tokens or chat.max_tokens
    changes: dict[str, object] = {}
    if cap is not None:
        changes["writer_max_tokens"] = min(cap, pool.writer_max_tokens)
    if chat.temperature is not None:
        changes["writer_temperature"] = chat.temperature
    if changes:
        pool = pool.model_copy(update=changes)
    *earlier, last = chat.messages
    if last.role != "user":
        raise InputError("The last message must be the user's question (role 'user').")
    history: list[ConversationTurn] = []
    for message in earlier:
        text = _text(message)
        if message.role in ("system", "developer"):
            history.append(ConversationTurn(role="user", content=_SYSTEM_PREFACE + text))
        elif text:
            history.append(ConversationTurn(role=message.role, content=text))
    request = FusionRequest.create(_text(last), pool, history=tuple(history), user=chat.user)
    return chat, request


def _pool_name(model: str) -> str | None:
    if model == DEFAULT_MODEL:
        return None
    if model.startswith(MODEL_PREFIX) and len(model) > len(MODEL_PREFIX):
        return model.removeprefix(MODEL_PREFIX)
    raise InputError(
        f"Unknown model {model!r}: use 'fusion' (the default pool) or 'fusion/<pool>' "
        "(GET /v1/models lists them)."
    )


def model_list(config: FusionConfig, created: int) -> dict[str, Any]:
    """``GET /v1/models``: ``fusion`` (the default pool) and ``fusion/<pool>`` for each pool."""
    ids = [DEFAULT_MODEL, *(MODEL_PREFIX + name for name in sorted(config.pools))]
    return {
        "object": "list",
        "data": [
            {"id": i, "object": "model", "created": created, "owned_by": "fusion"} for i in ids
        ],
    }


def usage(result: FusionResult) -> dict[str, Any]:
    """Every call of the fusion summed (panel, judge, writer, charged retries), cost in USD."""
    u = result.usage
    return {
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "total_tokens": u.total_tokens,
        "cost": u.cost_micros / MICROS_PER_USD,
    }


def fusion_extension(result: FusionResult) -> dict[str, Any]:
    """What a plain completion cannot say: each panel answer, the analysis, why degraded."""
    data = result.model_dump(
        mode="json",
        include={
            "request_id",
            "pool",
            "panel",
            "analysis",
            "analysis_note",
            "judge",
            "writer",
            "latency",
            "degraded",
            "degraded_reasons",
        },
    )
    data["cost_usd"] = result.cost_micros / MICROS_PER_USD
    return data


def _finish_reason(result: FusionResult) -> str:
    return "length" if result.writer.cut_at_tokens is not None else "stop"


def completion(completion_id: str, model: str, result: FusionResult) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": result.answer},
                "finish_reason": _finish_reason(result),
            }
        ],
        "usage": usage(result),
        "fusion": fusion_extension(result),
    }


def chunk(
    completion_id: str,
    model: str,
    *,
    delta: dict[str, Any] | None = None,
    result: FusionResult | None = None,
    with_usage: bool = False,
) -> dict[str, Any]:
    """A ``chat.completion.chunk``: a ``delta``, the last choice (``result``), or, with
    ``with_usage``, the usage-only chunk (no choices) OpenAI sends when asked to."""
    choices: list[dict[str, Any]] = []
    if delta is not None:
        choices.append({"index": 0, "delta": delta, "finish_reason": None})
    body: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
    }
    if result is not None and with_usage:
        body["usage"] = usage(result)
        body["fusion"] = fusion_extension(result)
    elif result is not None:
        choices.append({"index": 0, "delta": {}, "finish_reason": _finish_reason(result)})
    return body
