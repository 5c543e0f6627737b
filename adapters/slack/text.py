"""Slack text safety and limits: everything a model wrote goes through ``escape`` first.

Slack treats ``&``, ``<`` and ``>`` as control characters: ``<!channel>``, ``<!here>``,
``<!everyone>``, ``<@U123>``, ``<!subteam^S1>`` and ``<url|label>`` are only live when written
with raw angle brackets. Escaping the three characters (Slack's own documented rule) makes any
such token in model text render literally, so nothing a model says can ping anyone or forge a
link. The bot also never sets ``link_names``, so bare ``@channel`` words stay plain text.

``markdown`` blocks (the fused answer and each model's answer) also render standard Markdown
links, ``[label](url)``, which the three-character escape does not touch: a model could write
``[Re-authenticate at slack.com](https://evil.example)``. ``visible_links`` rewrites every such
link outside code to ``label (url)``, so the reader always sees where a link really goes, and
breaks any leftover link syntax it could not parse (``](`` and reference definitions' ``]:``).
``<https://…>`` autolinks are already inert once escaped; bare URLs show their own destination.
``escape`` also removes Unicode bidirectional controls (``adapters.common.untrusted``), which
could otherwise show a link or a sentence in another order than it was written.

The limits are Slack's published ones; ``split_text`` (from ``adapters.common``) is applied
after escaping so the limit holds for the bytes actually sent.
"""

from __future__ import annotations

import re

from adapters.common import split_text, strip_bidi_controls

__all__ = [
    "MARKDOWN_BLOCK_TOTAL",
    "MAX_BLOCKS",
    "MESSAGE_TEXT_LIMIT",
    "SECTION_TEXT_LIMIT",
    "escape",
    "escape_markdown",
    "split_escaped",
    "split_markdown",
    "visible_links",
]

MARKDOWN_BLOCK_TOTAL = 12_000
"""The cumulative limit of all ``markdown`` blocks' text in one message."""
SECTION_TEXT_LIMIT = 3_000
"""A ``section`` block's text (and a ``context`` element's)."""
MAX_BLOCKS = 50
MESSAGE_TEXT_LIMIT = 40_000
"""The top-level ``text`` of ``chat.postMessage``; past it Slack truncates silently."""


def escape(text: str) -> str:
    """Escape Slack's control characters so untrusted text can never form a mention or link,
    and drop bidirectional controls so it is shown in the order it was written."""
    text = strip_bidi_controls(text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def split_escaped(text: str, limit: int) -> list[str]:
    """Escape, then split under ``limit`` (never losing text; code fences kept balanced)."""
    return split_text(escape(text), limit)


_LABEL = r"(?:\\.|[^\[\]\\]|\[(?:\\.|[^\[\]\\])*\])*"
"""Link text: escaped characters, anything but brackets, or one level of balanced brackets."""
_DEST = r"(?:<[^<>\n]*>|(?:\\.|[^\s()\\]|\((?:\\.|[^\s()\\])*\))*)"
"""A destination: ``<…>``, or non-space text with one level of balanced parentheses."""
_TITLE = r"(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^()]*\)))?"
_INLINE_LINK = re.compile(rf"!?\[(?P<label>{_LABEL})\]\(\s*(?P<dest>{_DEST}){_TITLE}\s*\)")
_DEFINITION = re.compile(r"^(?P<lead>[ \t>]*)\[(?P<ref>[^\]\n]+)\]:", re.MULTILINE)
_FENCE_OPEN = re.compile(r"(?P<fence>`{3,})[^`]*")
"""Only unindented backtick fences count as code: an indented one may sit in a list item that
ends (and closes it) early, and not every renderer knows ``~~~``. Anything else is prose."""
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
"""Lines as Markdown sees them (``str.splitlines`` also splits on characters Markdown keeps)."""
_CODE_SPAN = re.compile(r"(?P<ticks>`+)(?:(?!\n[ \t]*\n)[\s\S])*?(?<!`)(?P=ticks)(?!`)")


def _show_link(match: re.Match[str]) -> str:
    label = match["label"].strip()
    dest = match["dest"].removeprefix("<").removesuffix(">")
    return f"{label} ({dest})" if label else f"({dest})"


def _visible_in_prose(text: str) -> str:
    """Rewrite links in text known not to be code (nested links need more than one pass)."""
    while True:
        rewritten = _INLINE_LINK.sub(_show_link, text)
        if rewritten == text:
            break
        text = rewritten
    return _break_links(_DEFINITION.sub(lambda m: f"{m['lead']}[{m['ref']}]", text))


def _break_links(text: str) -> str:
    """Whatever the patterns missed (deeper nesting, a code span inside the label) is broken
    outright: no Markdown link or reference definition survives a space after the bracket."""
    return text.replace("](", "] (").replace("]:", "] :")


def _visible_outside_spans(text: str) -> str:
    out: list[str] = []
    pos = 0
    for span in _CODE_SPAN.finditer(text):
        out.append(_visible_in_prose(text[pos : span.start()]))
        # A backtick inside a link's destination is not a code span to a renderer, so what
        # looks like a span may hide a live link: break link syntax in spans too.
        out.append(_break_links(span.group()))
        pos = span.end()
    out.append(_visible_in_prose(text[pos:]))
    return "".join(out)


def visible_links(text: str) -> str:
    """Rewrite Markdown links ``[label](url)`` to ``label (url)``, leaving code as it is.

    Fenced code blocks are kept byte for byte (links do not render there), and inline code
    spans nearly so; when unsure whether something is code, the text is treated as prose, which
    can only rewrite too much, never too little."""
    out: list[str] = []
    prose: list[str] = []
    fence: str | None = None
    for line in _LINE.findall(text):
        if fence is not None:
            out.append(line)
            closing = line.strip()
            if closing.startswith(fence) and not closing.strip(fence[0]):
                fence = None
            continue
        opened = _FENCE_OPEN.fullmatch(line.rstrip("\r\n"))
        if opened is None:
            prose.append(line)
            continue
        out.append(_visible_outside_spans("".join(prose)))
        prose = []
        out.append(line)
        fence = opened["fence"]
    out.append(_visible_outside_spans("".join(prose)))
    return "".join(out)


def escape_markdown(text: str) -> str:
    """``escape`` for a ``markdown`` block: also make every link show its real destination."""
    return escape(visible_links(text))


def split_markdown(text: str, limit: int) -> list[str]:
    """``escape_markdown``, then split under ``limit`` (as ``split_escaped``)."""
    return split_text(escape_markdown(text), limit)
