"""What a finished fusion shows besides the answer: the comparison sections and the footer.

Both are plain, platform-neutral data built from a ``FusionResult``; each adapter renders them
in its own markup (and escapes them: every string here may come from a model — see
``adapters.common.untrusted``). The sections are an honest account of the judge's analysis,
including saying so when there is none.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from fusion_engine.budget.base import BudgetStatus
from fusion_engine.money import format_usd
from fusion_engine.progress import format_seconds
from fusion_engine.result import FusionResult, Stance, cut_note

__all__ = [
    "Footer",
    "FooterModel",
    "Section",
    "SectionItem",
    "footer",
    "format_seconds",
    "short_model",
    "summary_sections",
]

_FROZEN = ConfigDict(frozen=True)

SectionKey = Literal["agree", "differ", "unique", "partial", "blind", "note"]


class SectionItem(BaseModel):
    """One point. ``model`` names who saw it (unique insights); ``stances`` who said what
    (contradictions, where ``text`` is the topic)."""

    model_config = _FROZEN
    text: str
    model: str | None = None
    stances: tuple[Stance, ...] = ()


class Section(BaseModel):
    model_config = _FROZEN
    key: SectionKey
    title: str
    items: tuple[SectionItem, ...]


def short_model(slug: str) -> str:
    """``openai/gpt-5.4`` → ``gpt-5.4``: the name people recognise, short enough for a footer."""
    return slug.rsplit("/", 1)[-1] or slug


def summary_sections(result: FusionResult) -> list[Section]:
    """The non-empty sections of the analysis, in reading order.

    Without an analysis (the judge failed), one ``note`` section says so and why, so a reader
    never mistakes a missing comparison for full agreement."""
    analysis = result.analysis
    if analysis is None:
        why = result.analysis_note or "the judge did not return a usable comparison"
        return [
            Section(
                key="note",
                title="No comparison",
                items=(SectionItem(text=f"The answers were not compared: {why}."),),
            )
        ]
    sections = [
        Section(
            key="agree",
            title="Where they agree",
            items=tuple(SectionItem(text=t) for t in analysis.consensus),
        ),
        Section(
            key="differ",
            title="Where they differ",
            items=tuple(
                SectionItem(text=c.topic, stances=c.stances) for c in analysis.contradictions
            ),
        ),
        Section(
            key="unique",
            title="Only one model saw",
            items=tuple(
                SectionItem(text=u.insight, model=u.model) for u in analysis.unique_insights
            ),
        ),
        Section(
            key="partial",
            title="Only some covered",
            items=tuple(SectionItem(text=t) for t in analysis.partial_coverage),
        ),
        Section(
            key="blind",
            title="Nobody covered",
            items=tuple(SectionItem(text=t) for t in analysis.blind_spots),
        ),
    ]
    if result.analysis_note:
        sections.append(
            Section(key="note", title="Note", items=(SectionItem(text=result.analysis_note),))
        )
    return [s for s in sections if s.items]


class FooterModel(BaseModel):
    model_config = _FROZEN
    model: str
    latency_s: float
    cost_micros: int = 0
    reason: str | None = None
    """Why it is missing; ``None`` for a model that answered."""
    cut_at_tokens: int | None = None
    """The output cap its answer was cut at, when it was."""

    @property
    def name(self) -> str:
        """Its short name, labelled when its answer was cut."""
        name = short_model(self.model)
        return name if self.cut_at_tokens is None else f"{name} ({cut_note(self.cut_at_tokens)})"


class Footer(BaseModel):
    """Who answered, who is missing and why, how long it took, what it cost, what is left."""

    model_config = _FROZEN
    answered: tuple[FooterModel, ...]
    missing: tuple[FooterModel, ...]
    latency_s: float
    cost_micros: int
    budget_left_micros: int | None = None
    degraded: bool = False
    degraded_reasons: tuple[str, ...] = ()
    answer_cut_at_tokens: int | None = None
    """The output cap the fused answer itself was cut at, when it was."""

    def parts(self) -> list[str]:
        """Plain-text footer parts, e.g. ``["3 models: a, b, c", "12.3 s", "$0.0123", …]``.

        Adapters join them with their own separator; the strings are not escaped."""
        names = ", ".join(m.name for m in self.answered)
        parts = [f"{len(self.answered)} model{'s' if len(self.answered) != 1 else ''}: {names}"]
        if self.missing:
            parts.append(
                "missing: "
                + ", ".join(f"{short_model(m.model)} ({m.reason})" for m in self.missing)
            )
        if self.answer_cut_at_tokens is not None:
            parts.append(f"fused answer {cut_note(self.answer_cut_at_tokens)}")
        parts.append(format_seconds(self.latency_s))
        parts.append(format_usd(self.cost_micros))
        if self.budget_left_micros is not None:
            parts.append(f"{format_usd(self.budget_left_micros)} budget left")
        return parts

    def text(self, sep: str = " · ") -> str:
        return sep.join(self.parts())


def footer(result: FusionResult, budget: BudgetStatus | None = None) -> Footer:
    """The footer for ``result``; ``budget`` (after settling) adds what the team has left."""
    return Footer(
        answered=tuple(
            FooterModel(
                model=a.model,
                latency_s=a.latency_s,
                cost_micros=a.usage.cost_micros,
                cut_at_tokens=a.cut_at_tokens,
            )
            for a in result.answers
        ),
        missing=tuple(
            FooterModel(
                model=f.model,
                latency_s=f.latency_s,
                cost_micros=f.usage.cost_micros,
                reason=f.reason,
            )
            for f in result.failures
        ),
        latency_s=result.latency.total_s,
        cost_micros=result.cost_micros,
        budget_left_micros=None if budget is None else budget.remaining_micros,
        degraded=result.degraded,
        degraded_reasons=result.degraded_reasons,
        answer_cut_at_tokens=result.writer.cut_at_tokens,
    )
