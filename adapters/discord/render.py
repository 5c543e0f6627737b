"""Discord message payloads built from results, progress and errors.

Everything here is built from untrusted model output, so every payload carries
``allowed_mentions: {"parse": []}`` (no ``@everyone``, ``@here``, role or user pings), and every
text loses its bidirectional controls on the way into a payload (``_split``). Nothing is
cut: long text is split across messages (2,000 characters of content each) and embeds (4,096
characters of description each, 6,000 characters and 10 embeds per message).
"""

from __future__ import annotations

import re
from typing import Any

from adapters.common import (
    Section,
    footer,
    format_seconds,
    split_text,
    strip_bidi_controls,
    summary_sections,
)
from adapters.discord.rest import Payload
from fusion_engine.budget.base import BudgetStatus
from fusion_engine.errors import FusionError
from fusion_engine.money import format_usd
from fusion_engine.result import FusionResult, PanelAnswer, PanelFailure, cut_note

__all__ = [
    "BUTTON_ID",
    "CONTENT_LIMIT",
    "EMBED_DESCRIPTION_LIMIT",
    "NO_MENTIONS",
    "answer_payloads",
    "button_id",
    "error_payloads",
    "member_payloads",
    "notice_payload",
    "progress_payload",
    "thread_name",
]

CONTENT_LIMIT = 2000
EMBED_DESCRIPTION_LIMIT = 4096
EMBEDS_TOTAL_LIMIT = 6000
EMBEDS_PER_MESSAGE = 10
BUTTONS_PER_ROW = 5
BUTTON_LABEL_LIMIT = 80
NO_MENTIONS: dict[str, list[str]] = {"parse": []}
EPHEMERAL = 1 << 6

BUTTON_ID = re.compile(r"fuse:(?P<key>.+):(?P<index>\d+)")
"""A per-model button's custom_id: the job key and the model's index in the panel."""

_COLOR_OK = 0x5865F2
_COLOR_DEGRADED = 0xFEE75C


def _split(text: str, limit: int) -> list[str]:
    """Every text a payload carries passes here: bidirectional controls are removed (see
    ``adapters.common.untrusted``), then it is split under ``limit``."""
    return split_text(strip_bidi_controls(text), limit)


def thread_name(question: str) -> str:
    """The name of an answer's thread: the question, shown in the order it was written."""
    return strip_bidi_controls(question)


def button_id(job_key: str, index: int) -> str:
    custom_id = f"fuse:{job_key}:{index}"
    if len(custom_id) > 100:
        raise ValueError(f"job key too long for a Discord custom_id: {job_key!r}")
    return custom_id


def _message(content: str = "", **fields: Any) -> Payload:
    return {"content": content, "allowed_mentions": NO_MENTIONS, **fields}


def progress_payload(text: str) -> Payload:
    """The in-progress state of the main message (buttons and embeds are cleared)."""
    return _message(_split(text, CONTENT_LIMIT)[-1], embeds=[], components=[])


def notice_payload(text: str, *, ephemeral: bool = False) -> Payload:
    return _message(text, flags=EPHEMERAL) if ephemeral else _message(text)


def error_payloads(error: FusionError) -> list[Payload]:
    """Why there is no answer; long reasons (every model's failure) span several messages."""
    text = f"Sorry, I couldn't answer that: {error.user_message}"
    return [_message(part, embeds=[], components=[]) for part in _split(text, CONTENT_LIMIT)]


def _buttons(job_key: str, result: FusionResult) -> list[Payload]:
    buttons = [
        {
            "type": 2,
            "style": 2,
            "label": _label(member),
            "custom_id": button_id(job_key, index),
        }
        for index, member in enumerate(result.panel)
    ]
    return [
        {"type": 1, "components": buttons[i : i + BUTTONS_PER_ROW]}
        for i in range(0, len(buttons), BUTTONS_PER_ROW)
    ]


def _label(member: PanelAnswer | PanelFailure) -> str:
    mark = "" if isinstance(member, PanelAnswer) else "✗ "
    label = mark + member.model
    return label if len(label) <= BUTTON_LABEL_LIMIT else label[: BUTTON_LABEL_LIMIT - 1] + "…"


def _embeds(result: FusionResult, budget: BudgetStatus | None) -> list[Payload]:
    color = _COLOR_DEGRADED if result.degraded else _COLOR_OK
    embeds: list[Payload] = []
    summary = "\n".join(_section_lines(summary_sections(result)))
    for i, part in enumerate(_split(summary, EMBED_DESCRIPTION_LIMIT) if summary else []):
        embed: Payload = {"description": part, "color": color}
        if i == 0:
            embed["title"] = "How the models compared"
        embeds.append(embed)
    info = footer(result, budget)
    lines = [*info.parts(), *(f"Degraded: {reason}" for reason in info.degraded_reasons)]
    for part in _split("\n".join(lines), EMBED_DESCRIPTION_LIMIT):
        embeds.append({"description": part, "color": color})
    return embeds


def _section_lines(sections: list[Section]) -> list[str]:
    lines: list[str] = []
    for section in sections:
        lines.append(f"**{section.title}**")
        for item in section.items:
            who = f"{item.model}: " if item.model else ""
            lines.append(f"• {who}{item.text}")
            lines.extend(f"  ◦ {stance.model}: {stance.position}" for stance in item.stances)
    return lines


def _pack_embeds(embeds: list[Payload]) -> list[list[Payload]]:
    """Group embeds into messages under Discord's 6,000-character and 10-embed limits."""
    groups: list[list[Payload]] = [[]]
    size = 0
    for embed in embeds:
        length = len(embed.get("description", "")) + len(embed.get("title", ""))
        if groups[-1] and (
            size + length > EMBEDS_TOTAL_LIMIT or len(groups[-1]) >= EMBEDS_PER_MESSAGE
        ):
            groups.append([])
            size = 0
        groups[-1].append(embed)
        size += length
    return [g for g in groups if g]


def answer_payloads(
    result: FusionResult,
    budget: BudgetStatus | None,
    job_key: str,
) -> list[Payload]:
    """The answer as messages: the first carries the buttons, the last ones the embeds."""
    chunks = _split(result.answer, CONTENT_LIMIT) or ["(the writer returned no text)"]
    payloads = [_message(chunk, embeds=[], components=[]) for chunk in chunks]
    payloads[0]["components"] = _buttons(job_key, result)
    groups = _pack_embeds(_embeds(result, budget))
    payloads[-1]["embeds"] = groups[0]
    payloads.extend(_message("", embeds=group, components=[]) for group in groups[1:])
    return payloads


def member_payloads(result: FusionResult, index: int, *, ephemeral: bool = False) -> list[Payload]:
    """One panel member's own answer (or failure), labelled with model, latency and cost."""
    member = result.panel[index]
    if isinstance(member, PanelAnswer):
        served = "" if member.served_by == member.model else f" (served by {member.served_by})"
        cut = "" if member.cut_at_tokens is None else f" · {cut_note(member.cut_at_tokens)}"
        header = (
            f"**{member.model}**{served} · {format_seconds(member.latency_s)} · "
            f"{format_usd(member.usage.cost_micros)}{cut}"
        )
        body = member.text
    else:
        header = f"**{member.model}** · no answer after {format_seconds(member.latency_s)}"
        body = f"Failed: {member.reason}"
    chunks = _split(f"{header}\n{body}", CONTENT_LIMIT)
    flags = {"flags": EPHEMERAL} if ephemeral else {}
    return [_message(chunk, **flags) for chunk in chunks]
