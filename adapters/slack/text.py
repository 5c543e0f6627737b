"""Slack text safety and limits: everything a model wrote goes through ``escape`` first.

Slack treats ``&``, ``<`` and ``>`` as control characters: ``<!channel>``, ``<!here>``,
``<!everyone>``, ``<@U123>``, ``<!subteam^S1>`` and ``<url|label>`` are only live when written
with raw angle brackets. Escaping the three characters (Slack's own documented rule) makes any
such token in model text render literally, so nothing a model says can ping anyone or forge a
link. The bot also never sets ``link_names``, so bare ``@channel`` words stay plain text.

The limits are Slack's published ones; ``split_text`` (from ``adapters.common``) is applied
after escaping so the limit holds for the bytes actually sent.
"""

from __future__ import annotations

from adapters.common import split_text

__all__ = [
    "MARKDOWN_BLOCK_TOTAL",
    "MAX_BLOCKS",
    "MESSAGE_TEXT_LIMIT",
    "SECTION_TEXT_LIMIT",
    "escape",
    "split_escaped",
]

MARKDOWN_BLOCK_TOTAL = 12_000
"""The cumulative limit of all ``markdown`` blocks' text in one message."""
SECTION_TEXT_LIMIT = 3_000
"""A ``section`` block's text (and a ``context`` element's)."""
MAX_BLOCKS = 50
MESSAGE_TEXT_LIMIT = 40_000
"""The top-level ``text`` of ``chat.postMessage``; past it Slack truncates silently."""


def escape(text: str) -> str:
    """Escape Slack's control characters so untrusted text can never form a mention or link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def split_escaped(text: str, limit: int) -> list[str]:
    """Escape, then split under ``limit`` (never losing text; code fences kept balanced)."""
    return split_text(escape(text), limit)
