"""Split long text into chunks under a platform's hard character limit.

Chat platforms reject (Discord) or silently cut (Slack) text past their limits, and a fused
answer can be longer than one message allows. ``split_text`` cuts at the most natural boundary
that fits — a blank line, then a line break, then a space, and only as a last resort inside a
word — and never drops or reorders a character: joining the chunks gives the original text back,
apart from the fence lines it adds. When a cut falls inside a fenced code block, the chunk is
closed with a fence and the next one reopens it with the same info string (``` ```python ```), so
every chunk renders as code on its own. Numbering the parts ("1/3") is left to the caller, who
must then pass a ``limit`` that leaves room for its label.
"""

from __future__ import annotations

__all__ = ["FENCE", "split_text"]

FENCE = "```"
_CLOSE = "\n" + FENCE
_MIN_LIMIT = 32
_MAX_REOPEN = 24


def _fence_after(text: str, open_fence: str | None) -> str | None:
    """The fence line still open at the end of ``text``, given the one open at its start."""
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped.startswith(FENCE):
            open_fence = None if open_fence is not None else stripped
    return open_fence


def _reopen_line(fence: str) -> str:
    info = fence if len(fence) <= _MAX_REOPEN else FENCE
    return info + "\n"


def _cut(text: str, budget: int) -> int:
    """Where to cut ``text`` so the first part is at most ``budget`` characters (and not empty)."""
    window = text[:budget]
    for sep in ("\n\n", "\n", " "):
        at = window.rfind(sep)
        if at > 0:
            return at + len(sep)
    cut = budget
    # Do not leave a dangling HTML-style entity (``&amp;``) split in two.
    amp = window.rfind("&", max(0, budget - 8))
    if amp > 0 and ";" not in window[amp:] and ";" in text[amp : amp + 10]:
        cut = amp
    return max(1, cut)


def split_text(text: str, limit: int) -> list[str]:
    """Split ``text`` into chunks of at most ``limit`` characters each.

    Returns ``[text]`` when it already fits (also for ``""``). ``limit`` must be at least 32.
    """
    if limit < _MIN_LIMIT:
        raise ValueError(f"limit must be at least {_MIN_LIMIT} characters, got {limit}")
    if len(text) <= limit:
        return [text]
    chunks: list[str] = []
    prefix = ""
    open_fence: str | None = None
    rest = text
    while len(prefix) + len(rest) > limit:
        budget = limit - len(prefix) - len(_CLOSE)
        piece = rest[: _cut(rest, budget)]
        rest = rest[len(piece) :]
        fence_at_end = _fence_after(piece, open_fence)
        chunk = prefix + piece
        if fence_at_end is not None:
            chunk = chunk + (FENCE if chunk.endswith("\n") else _CLOSE)
            prefix = _reopen_line(fence_at_end)
        else:
            prefix = ""
        open_fence = fence_at_end
        chunks.append(chunk)
    if rest:
        chunks.append(prefix + rest)
    return chunks
