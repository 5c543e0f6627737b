"""Plain-text building blocks for Discord messages.

Stand-ins for the shared ``adapters.common`` rendering (split, summary, footer, progress) until
it lands; the Discord modules import only from here so the swap is one file.
"""

from __future__ import annotations

from fusion_engine.budget.base import BudgetStatus
from fusion_engine.events import (
    AnalysisReady,
    Done,
    FusionEvent,
    FusionStarted,
    JudgeStarted,
    MemberFailed,
    MemberFinished,
    WriterDelta,
    WriterStarted,
)
from fusion_engine.money import format_usd
from fusion_engine.result import FusionResult

__all__ = ["ProgressText", "footer_lines", "split_text", "summary_lines"]

_FENCE = "```"


def _cut_point(text: str, limit: int) -> int:
    window = text[:limit]
    for sep in ("\n\n", "\n", " "):
        at = window.rfind(sep)
        if at > limit // 2:
            return at + len(sep)
    return limit


def split_text(text: str, limit: int) -> list[str]:
    """Split ``text`` into parts of at most ``limit`` characters, at paragraph, line or word
    boundaries when possible. Code fences open across a cut are closed and reopened, so each
    part renders on its own. Joining the parts (minus added fences) gives back every character."""
    if limit < 20:
        raise ValueError("limit too small to split with code fences")
    parts: list[str] = []
    rest = text
    reopen = ""
    while rest:
        budget = limit - len(reopen)
        if len(rest) <= budget:
            parts.append(reopen + rest)
            break
        cut = _cut_point(rest, budget - len(_FENCE) - 1)
        head, rest = rest[:cut], rest[cut:]
        part = reopen + head
        if part.count(_FENCE) % 2 == 1:
            part = part + ("" if part.endswith("\n") else "\n") + _FENCE
            reopen = _FENCE + "\n"
        else:
            reopen = ""
        parts.append(part)
    return parts


def summary_lines(result: FusionResult) -> list[str]:
    """Agree / differ / only one saw / nobody covered, from the judge's analysis."""
    analysis = result.analysis
    if analysis is None:
        note = result.analysis_note or "the judge gave no usable comparison"
        return [f"*No comparison: {note}.*"]
    lines: list[str] = []
    if analysis.consensus:
        lines.append("**Agree**")
        lines.extend(f"• {point}" for point in analysis.consensus)
    if analysis.contradictions:
        lines.append("**Differ**")
        for c in analysis.contradictions:
            lines.append(f"• {c.topic}")
            lines.extend(f"  ◦ {s.model}: {s.position}" for s in c.stances)
    if analysis.unique_insights:
        lines.append("**Only one saw**")
        lines.extend(f"• {u.model}: {u.insight}" for u in analysis.unique_insights)
    if analysis.blind_spots:
        lines.append("**Nobody covered**")
        lines.extend(f"• {point}" for point in analysis.blind_spots)
    return lines or ["*The judge found nothing to compare.*"]


def footer_lines(result: FusionResult, budget: BudgetStatus | None) -> list[str]:
    """Models (and missing ones with reasons), latency, cost, and the budget left."""
    answered = ", ".join(a.model for a in result.answers)
    lines = [f"Models: {answered}"]
    lines.extend(f"Missing: {f.model} ({f.reason})" for f in result.failures)
    if result.degraded and result.degraded_reasons:
        lines.append("Degraded: " + "; ".join(result.degraded_reasons))
    tail = f"{result.latency.total_s:.1f} s · {format_usd(result.cost_micros)}"
    if budget is not None:
        tail += f" · {format_usd(budget.remaining_micros)} budget left"
    lines.append(tail)
    return lines


class ProgressText:
    """Folds progress events into one short status text."""

    def __init__(self) -> None:
        self.models: dict[str, str] = {}
        self.stage = "Asking the panel…"
        self.preview = ""

    def apply(self, event: FusionEvent) -> None:
        if isinstance(event, FusionStarted):
            self.models = dict.fromkeys(event.models, "⏳")
        elif isinstance(event, MemberFinished):
            self.models[event.answer.model] = f"✅ {event.answer.latency_s:.1f} s"
        elif isinstance(event, MemberFailed):
            self.models[event.failure.model] = f"❌ {event.failure.reason}"
        elif isinstance(event, JudgeStarted):
            self.stage = "Comparing the answers…"
        elif isinstance(event, AnalysisReady):
            self.stage = "Comparison ready."
        elif isinstance(event, WriterStarted):
            self.stage = "Writing the fused answer…"
        elif isinstance(event, WriterDelta):
            self.preview += event.text
        elif isinstance(event, Done):
            self.stage = "Done."

    def render(self) -> str:
        lines = [
            f"{mark} {model}" if mark == "⏳" else f"{model}: {mark}"
            for model, mark in self.models.items()
        ]
        text = "\n".join([self.stage, *lines])
        if self.preview:
            text += "\n\n" + self.preview[-1200:]
        return text
