"""Offline, conservative token estimates for quotes (no tokenizer download, no network).

Real tokenizers average about 4 characters a token on English prose and fewer on code or other
scripts. Counting 3 characters a token, rounded up, plus a fixed overhead per chat message
over-counts on purpose: a quote is what a budget reserves, so it must not be too low.
"""

from __future__ import annotations

from collections.abc import Iterable

from fusion_engine.llm.base import ChatMessage

__all__ = ["CHARS_PER_TOKEN", "MESSAGE_OVERHEAD_TOKENS", "estimate_messages", "estimate_tokens"]

CHARS_PER_TOKEN = 3
MESSAGE_OVERHEAD_TOKENS = 8
"""Role markers and separators the chat template adds around each message."""


def estimate_tokens(text: str) -> int:
    """An upper estimate of the tokens in ``text``: characters / 3, rounded up."""
    return -(-len(text) // CHARS_PER_TOKEN)


def estimate_messages(messages: Iterable[ChatMessage]) -> int:
    """An upper estimate of the prompt tokens of a chat: every message plus its overhead."""
    return sum(estimate_tokens(m.content) + MESSAGE_OVERHEAD_TOKENS for m in messages)
