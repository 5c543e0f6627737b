"""Offline, conservative token estimates for quotes (no tokenizer download, no network).

Real tokenizers average about 4 characters a token on English prose and fewer on code. ASCII is
counted at 3 characters a token, rounded up. Other scripts and emoji can cost several tokens a
character, so every non-ASCII character counts as one token per UTF-8 byte: byte-level BPE
tokenizers never produce more tokens than bytes, so this cannot under-count them. A fixed
overhead per chat message is added. All of it over-counts on purpose: a quote is what a budget
reserves, so it must not be too low.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from fusion_engine.llm.base import ChatMessage

__all__ = [
    "CHARS_PER_TOKEN",
    "MESSAGE_OVERHEAD_TOKENS",
    "estimate_messages",
    "estimate_schema",
    "estimate_tokens",
]

CHARS_PER_TOKEN = 3
MESSAGE_OVERHEAD_TOKENS = 8
"""Role markers and separators the chat template adds around each message."""


_ASCII = bytes(range(128))


def estimate_tokens(text: str) -> int:
    """An upper estimate of the tokens in ``text``: ASCII characters / 3 (rounded up) plus one
    token per UTF-8 byte of everything else."""
    if text.isascii():
        return -(-len(text) // CHARS_PER_TOKEN)
    encoded = text.encode("utf-8")
    other_bytes = len(encoded.translate(None, _ASCII))
    return -(-(len(encoded) - other_bytes) // CHARS_PER_TOKEN) + other_bytes


def estimate_messages(messages: Iterable[ChatMessage]) -> int:
    """An upper estimate of the prompt tokens of a chat: every message plus its overhead."""
    return sum(estimate_tokens(m.content) + MESSAGE_OVERHEAD_TOKENS for m in messages)


def estimate_schema(schema: Mapping[str, Any] | None) -> int:
    """An upper estimate of the prompt tokens a structured-output schema may add (endpoints that
    cannot enforce a schema natively put it in the prompt)."""
    return estimate_tokens(json.dumps(schema, separators=(",", ":"))) if schema else 0
