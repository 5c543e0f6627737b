"""Redis replies as text in tests: redis-py types a reply as ``bytes | str`` (it depends on the
client's ``decode_responses``), and our clients return bytes."""

from __future__ import annotations

__all__ = ["text"]


def text(value: bytes | str | None) -> str:
    """``value`` decoded as UTF-8; ``None`` (a missing key) is an error in a test."""
    assert value is not None
    return value.decode() if isinstance(value, bytes) else value
