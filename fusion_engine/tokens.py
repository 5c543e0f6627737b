"""Offline, conservative token estimates for quotes (no tokenizer download, no network).

Real tokenizers average about 4 characters a token on English prose and fewer on code. ASCII is
counted at 3 characters a token, rounded up. Other scripts and emoji can cost several tokens a
character, so every non-ASCII character counts as one token per UTF-8 byte: byte-level BPE
tokenizers never produce more tokens than bytes, so this cannot under-count them. A fixed
overhead per chat message is added. All of it over-counts on purpose: a quote is what a budget
reserves, so it must not be too low.

``OutputCap`` is the same estimate kept as an answer arrives in pieces, so the model client can
stop reading at the ``max_tokens`` the quote assumed, whatever the provider does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only for annotations: the llm package imports this module
    from fusion_engine.llm.base import ChatMessage

__all__ = [
    "CHARS_PER_TOKEN",
    "MESSAGE_OVERHEAD_TOKENS",
    "OutputCap",
    "estimate_messages",
    "estimate_schema",
    "estimate_tokens",
]

CHARS_PER_TOKEN = 3
MESSAGE_OVERHEAD_TOKENS = 8
"""Role markers and separators the chat template adds around each message."""
BOUNDARY_CHARS = 80
"""How far back from the cap a cut looks for whitespace, so it does not split a word."""


_ASCII = bytes(range(128))


def _split(text: str) -> tuple[int, int]:
    """``(ASCII characters, bytes of everything else)`` of ``text``."""
    if text.isascii():
        return len(text), 0
    encoded = text.encode("utf-8")
    other_bytes = len(encoded.translate(None, _ASCII))
    return len(encoded) - other_bytes, other_bytes


def _estimate(ascii_chars: int, other_bytes: int) -> int:
    return -(-ascii_chars // CHARS_PER_TOKEN) + other_bytes


def estimate_tokens(text: str) -> int:
    """An upper estimate of the tokens in ``text``: ASCII characters / 3 (rounded up) plus one
    token per UTF-8 byte of everything else."""
    return _estimate(*_split(text))


def estimate_messages(messages: Iterable[ChatMessage]) -> int:
    """An upper estimate of the prompt tokens of a chat: every message plus its overhead."""
    return sum(estimate_tokens(m.content) + MESSAGE_OVERHEAD_TOKENS for m in messages)


def estimate_schema(schema: Mapping[str, Any] | None) -> int:
    """An upper estimate of the prompt tokens a structured-output schema may add (endpoints that
    cannot enforce a schema natively put it in the prompt)."""
    return estimate_tokens(json.dumps(schema, separators=(",", ":"))) if schema else 0


class OutputCap:
    """Keeps a text that arrives in pieces within ``limit`` estimated tokens.

    Both counts ``estimate_tokens`` uses are additive, so after any pieces the running estimate
    equals ``estimate_tokens`` of their concatenation exactly, at the cost of an ``isascii`` and
    an addition per ASCII piece (this runs for every streamed delta). The first piece that would
    take the text past ``limit`` is cut to what still fits, at whitespace when there is some
    near the cut, and the cap is then ``reached``: nothing more is taken.
    """

    __slots__ = ("_ascii", "_other", "limit", "reached")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.reached = False
        self._ascii = 0
        self._other = 0

    @property
    def tokens(self) -> int:
        """The estimate of what was offered: ``limit`` once a piece went past it."""
        return self.limit if self.reached else _estimate(self._ascii, self._other)

    def take(self, piece: str) -> str:
        """Count ``piece`` and return the part of it that fits under the cap."""
        if self.reached:
            return ""
        if piece.isascii():
            ascii_chars = self._ascii + len(piece)
            if _estimate(ascii_chars, self._other) <= self.limit:
                self._ascii = ascii_chars
                return piece
        ascii_chars, other_bytes = _split(piece)
        if _estimate(self._ascii + ascii_chars, self._other + other_bytes) <= self.limit:
            self._ascii += ascii_chars
            self._other += other_bytes
            return piece
        self.reached = True
        return _at_boundary(piece, self._fitting(piece))

    def _fitting(self, piece: str) -> int:
        """The length of the longest prefix of ``piece`` that fits (binary search: the estimate
        only grows with the prefix)."""
        low, high = 0, len(piece)
        while low < high:
            mid = (low + high + 1) // 2
            ascii_chars, other_bytes = _split(piece[:mid])
            if _estimate(self._ascii + ascii_chars, self._other + other_bytes) <= self.limit:
                low = mid
            else:
                high = mid - 1
        return low


def _at_boundary(piece: str, end: int) -> str:
    """``piece[:end]``, backed off to the last whitespace within ``BOUNDARY_CHARS`` if any."""
    kept = piece[:end]
    if end < len(piece) and not piece[end].isspace():
        cut = max(kept.rfind(" "), kept.rfind("\n"))
        if cut >= 0 and end - cut <= BOUNDARY_CHARS:
            kept = kept[:cut]
    return kept.rstrip()
