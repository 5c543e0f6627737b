"""Hostile text with every bidirectional control, and a search for any left in what was sent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from adapters.common.untrusted import BIDI_CONTROLS

__all__ = ["BIDI_ATTACK", "BIDI_SHOWN", "bidi_left"]

BIDI_ATTACK = (
    "Pay at https://evil.example/\u202egro.knab\u202c now. "
    "\u2067\u2066\u2068\u2069\u202a\u202b\u202d\u200e\u200f\u061cDone."
)
"""Shown by a chat as "…/bank.org" unless the override is removed."""
BIDI_SHOWN = "Pay at https://evil.example/gro.knab now. Done."
"""What must reach the chat instead: every character, in the order written."""


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def bidi_left(sent: Any) -> list[str]:
    """Every string anywhere in ``sent`` (JSON-like) that still holds a bidirectional control."""
    return [s for s in _strings(sent) if BIDI_CONTROLS.intersection(s)]
