"""Block Kit for every message Fusion posts in Slack. Pure functions: data in, JSON out.

Every string that came from a model (or a user) is escaped with ``text.escape`` here, at the
last step (``text.escape_markdown`` for ``markdown`` blocks, which also render Markdown links,
so every link shows its real destination), and every piece of text is split under Slack's real
limits rather than cut: the fused answer fills ``markdown`` blocks up to the 12,000-character
per-message total and any remainder becomes numbered continuation messages, posted in the
answer's thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adapters.common import (
    Footer,
    ProgressView,
    Section,
    footer,
    format_seconds,
    short_model,
    split_text,
    summary_sections,
)
from adapters.slack.text import (
    MARKDOWN_BLOCK_TOTAL,
    MAX_BLOCKS,
    SECTION_TEXT_LIMIT,
    escape,
    split_markdown,
)
from fusion_engine.budget.base import BudgetStatus
from fusion_engine.config import FusionConfig
from fusion_engine.errors import FusionError, UnavailableError
from fusion_engine.money import format_usd
from fusion_engine.result import (
    Analysis,
    FusionResult,
    PanelAnswer,
    PanelFailure,
    Quote,
    cut_note,
)

__all__ = [
    "ANSWER_PREFIX",
    "PART_PREFIX",
    "RERUN_ACTION",
    "SHOW_ANALYSIS_ACTION",
    "SlackMessage",
    "accepted_text",
    "analysis_message",
    "budget_text",
    "error_message",
    "final_messages",
    "help_text",
    "member_messages",
    "pools_text",
    "progress_message",
    "refusal_text",
]

Block = dict[str, Any]

ANSWER_PREFIX = "Fused answer for"
"""Starts the notification text of a fused answer (how a thread's history finds them)."""
PART_PREFIX = "Answer part"
"""Starts the text of an answer's continuation parts."""
RERUN_ACTION = "fusion_rerun"
SHOW_ANALYSIS_ACTION = "fusion_show_analysis"
_SUMMARY_ITEMS = 4
"""Items shown per comparison section in the channel message; the rest behind the button."""
_PART_LABEL = 40
"""Room kept for a "(part 2/3)" label when splitting."""


@dataclass(frozen=True)
class SlackMessage:
    """``text`` is the notification/fallback text; ``blocks`` what Slack renders."""

    text: str
    blocks: list[Block] = field(default_factory=list)


def _mrkdwn(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _markdown(text: str) -> Block:
    return {"type": "markdown", "text": text}


def _asker_blocks(user_id: str | None, question: str, pool: str) -> list[Block]:
    who = f"<@{escape(user_id)}>" if user_id else "Someone"
    quoted = "\n".join("&gt; " + line for line in escape(question).split("\n"))
    limit = SECTION_TEXT_LIMIT - _PART_LABEL
    parts = split_text(quoted, limit)
    return [_context(f"{who} asked Fusion ({escape(pool)} pool):"), *map(_mrkdwn, parts)]


def _notification(user_id: str | None, question: str, prefix: str) -> str:
    who = f"<@{escape(user_id)}>" if user_id else "someone"
    short = question if len(question) <= 150 else question[:150] + "…"
    return f"{prefix} {who}: {escape(short)}"


def progress_message(
    user_id: str | None, question: str, pool: str, view: ProgressView
) -> SlackMessage:
    lines = view.lines()
    body = "*" + escape(lines[0]) + "*\n" + "\n".join("• " + escape(x) for x in lines[1:])
    return SlackMessage(
        text=_notification(user_id, question, "Fusing an answer for"),
        blocks=[*_asker_blocks(user_id, question, pool), _mrkdwn(body[:SECTION_TEXT_LIMIT])],
    )


def _section_text(section: Section, limit: int | None) -> str:
    items = section.items if limit is None else section.items[:limit]
    lines = [f"*{section.title}*"]
    for item in items:
        if item.stances:
            stances = "; ".join(
                f"_{escape(short_model(s.model))}_: {escape(s.position)}" for s in item.stances
            )
            lines.append(f"• *{escape(item.text)}* — {stances}")
        elif item.model:
            lines.append(f"• {escape(item.text)} (_{escape(short_model(item.model))}_)")
        else:
            lines.append(f"• {escape(item.text)}")
    hidden = len(section.items) - len(items)
    if hidden > 0:
        lines.append(f"_…and {hidden} more: press *Show the analysis*._")
    return "\n".join(lines)


def _summary_blocks(result: FusionResult, limit: int | None) -> list[Block]:
    blocks: list[Block] = []
    for section in summary_sections(result):
        for part in _split_plain(_section_text(section, limit), SECTION_TEXT_LIMIT):
            blocks.append(_mrkdwn(part))
    return blocks


def _split_plain(text: str, limit: int) -> list[str]:
    return split_text(text, limit)


def _footer_text(foot: Footer) -> str:
    parts = [escape(p) for p in foot.parts()]
    text = " · ".join(parts)
    if foot.degraded:
        text = ":warning: *Degraded* — " + text
    return text[:SECTION_TEXT_LIMIT]


def _buttons(job_key: str, has_analysis: bool) -> Block:
    elements: list[Block] = [
        {
            "type": "button",
            "action_id": RERUN_ACTION,
            "text": {"type": "plain_text", "text": "Re-run"},
            "value": job_key,
        }
    ]
    if has_analysis:
        elements.append(
            {
                "type": "button",
                "action_id": SHOW_ANALYSIS_ACTION,
                "text": {"type": "plain_text", "text": "Show the analysis"},
                "value": job_key,
            }
        )
    return {"type": "actions", "elements": elements}


def _markdown_parts(text: str) -> list[str]:
    parts = split_markdown(text, MARKDOWN_BLOCK_TOTAL - _PART_LABEL)
    if len(parts) == 1:
        return parts
    return [f"{p}\n\n_(part {i}/{len(parts)})_" for i, p in enumerate(parts, 1)]


def final_messages(
    user_id: str | None,
    result: FusionResult,
    budget: BudgetStatus | None,
    job_key: str,
    *,
    buttons: bool = True,
) -> tuple[SlackMessage, list[SlackMessage]]:
    """The channel message for a finished fusion, and continuation messages for the thread.

    The first answer part (up to Slack's 12,000-character markdown total) sits in the channel
    message; further parts are returned as continuations, each labelled "(part i/n)"."""
    parts = _markdown_parts(result.answer or "_(The writer returned an empty answer.)_")
    blocks = _asker_blocks(user_id, result.question, result.pool)
    blocks.append(_markdown(parts[0]))
    if len(parts) > 1:
        blocks.append(_context(f"The answer continues in the thread ({len(parts) - 1} more)."))
    blocks.append({"type": "divider"})
    blocks.extend(_summary_blocks(result, _SUMMARY_ITEMS))
    blocks.append(_context(_footer_text(footer(result, budget))))
    if buttons:
        blocks.append(_buttons(job_key, result.analysis is not None))
    main = SlackMessage(text=_notification(user_id, result.question, ANSWER_PREFIX), blocks=blocks)
    rest = [
        SlackMessage(text=f"{PART_PREFIX} {i}", blocks=[_markdown(p)])
        for i, p in enumerate(parts[1:], 2)
    ]
    return main, rest


def member_messages(member: PanelAnswer | PanelFailure) -> list[SlackMessage]:
    """One model's own answer as thread replies, labelled with model, latency and cost."""
    name = escape(short_model(member.model))
    if isinstance(member, PanelFailure):
        label = (
            f"*{name}* did not answer: {escape(member.reason)} ({format_seconds(member.latency_s)})"
        )
        return [SlackMessage(text=f"{name} did not answer", blocks=[_mrkdwn(label)])]
    served = "" if member.served_by == member.model else f" (served by {escape(member.served_by)})"
    cut = "" if member.cut_at_tokens is None else f" · {cut_note(member.cut_at_tokens)}"
    label = (
        f"*{name}*{served} · {format_seconds(member.latency_s)} · "
        f"{format_usd(member.usage.cost_micros)}{cut}"
    )
    parts = _markdown_parts(member.text or "_(empty)_")
    out = []
    for i, part in enumerate(parts):
        blocks = [_context(label)] if i == 0 else []
        out.append(SlackMessage(text=f"{name}'s answer", blocks=[*blocks, _markdown(part)]))
    return out


def analysis_message(analysis: Analysis | None, result: FusionResult) -> SlackMessage:
    """The full comparison with every item and the judge's scores (the "Show" button)."""
    blocks = _summary_blocks(result, None)
    if analysis is not None and analysis.scores:
        rows = [
            f"• _{escape(short_model(s.model))}_: {s.overall:.1f}/10 (accuracy {s.accuracy}, "
            f"depth {s.depth}, completeness {s.completeness}, clarity {s.clarity}, "
            f"relevance {s.relevance})"
            for s in analysis.scores
        ]
        for part in _split_plain("*Scores from the judge*\n" + "\n".join(rows), SECTION_TEXT_LIMIT):
            blocks.append(_mrkdwn(part))
    if len(blocks) > MAX_BLOCKS:
        hidden = len(blocks) - (MAX_BLOCKS - 1)
        blocks = [*blocks[: MAX_BLOCKS - 1], _context(f"_{hidden} more blocks did not fit._")]
    return SlackMessage(text="The judge's analysis", blocks=blocks)


def error_message(
    user_id: str | None, question: str, pool: str, error: FusionError
) -> SlackMessage:
    body = f":warning: The fusion did not complete: {escape(error.user_message)}"
    return SlackMessage(
        text=_notification(user_id, question, "The fusion failed for"),
        blocks=[*_asker_blocks(user_id, question, pool), _mrkdwn(body[:SECTION_TEXT_LIMIT])],
    )


def accepted_text(models: int, quote: Quote) -> str:
    return f":hourglass_flowing_sand: Fusing with {models} models, about {quote.usd}."


def refusal_text(error: FusionError) -> str:
    """Why a request was refused. Redis being down is told in the README's own words."""
    if isinstance(error, UnavailableError):
        return escape(error.user_message)
    return f":no_entry_sign: {escape(error.user_message)} Nothing was charged."


def help_text(config: FusionConfig) -> str:
    return (
        "*Fusion* asks several AI models at once, has a judge compare their answers, and "
        "writes one answer from the best of them.\n"
        "• `/fuse <question>` — ask (the default pool is "
        f"`{escape(config.default_pool)}`); `/fuse --pool NAME <question>` picks another\n"
        "• `@Fusion <question>` in a channel or DM — same, answered in the thread; mention "
        "Fusion again in that thread to follow up\n"
        "• `/fuse pools` — the pools and their models\n"
        "• `/fuse budget` — the team's spend and limits\n"
        "• `/fuse budget set --daily USD --monthly USD` — change the limits (workspace "
        "admins and owners)"
    )


def pools_text(config: FusionConfig) -> str:
    lines = ["*Pools*"]
    for name, spec in config.pools.items():
        mark = " (default)" if name == config.default_pool else ""
        models = ", ".join(escape(short_model(m)) for m in spec.models)
        desc = f" — {escape(spec.description)}" if spec.description else ""
        lines.append(
            f"• `{escape(name)}`{mark}{desc}: {models}; judge {escape(short_model(spec.judge))}"
        )
    return "\n".join(lines)[:SECTION_TEXT_LIMIT]


def budget_text(status: BudgetStatus) -> str:
    return (
        "*Team budget*\n"
        f"• Today: {format_usd(status.daily_spent_micros)} of "
        f"{format_usd(status.daily_limit_micros)} spent "
        f"(resets {status.daily_resets_at:%Y-%m-%d %H:%M} UTC)\n"
        f"• This month: {format_usd(status.monthly_spent_micros)} of "
        f"{format_usd(status.monthly_limit_micros)} spent "
        f"(resets {status.monthly_resets_at:%Y-%m-%d %H:%M} UTC)\n"
        f"• Held by running fusions: {format_usd(status.held_micros)}\n"
        f"• Left: {format_usd(status.remaining_micros)}"
        + (f"\n:warning: {status.limits_warning}" if status.limits_warning else "")
    )
