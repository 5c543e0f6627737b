"""What a fusion produces: panel outcomes, the judge's analysis, and the ``FusionResult``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from fusion_engine.llm.base import Usage
from fusion_engine.money import format_usd

__all__ = [
    "Analysis",
    "AnswerScores",
    "Contradiction",
    "FusionResult",
    "MemberResult",
    "PanelAnswer",
    "PanelFailure",
    "Quote",
    "StageCall",
    "StageLatency",
    "Stance",
    "UniqueInsight",
    "cut_note",
]

_FROZEN = ConfigDict(frozen=True)


def cut_note(max_tokens: int) -> str:
    """How every surface labels an answer the client cut at its output cap."""
    return f"cut at {max_tokens:,} tokens"


class PanelAnswer(BaseModel):
    model_config = _FROZEN

    kind: Literal["answer"] = "answer"
    model: str
    """The pool's slug for this member."""
    served_by: str
    """The model that actually answered (a fallback slug, or the endpoint's reported model)."""
    text: str
    latency_s: float
    usage: Usage
    cut_at_tokens: int | None = None
    """The output cap the answer was cut at (the model went on past ``max_tokens``); ``None``
    when it is complete."""

    @property
    def truncated(self) -> bool:
        return self.cut_at_tokens is not None


class PanelFailure(BaseModel):
    model_config = _FROZEN

    kind: Literal["failure"] = "failure"
    model: str
    reason: str
    """Human-readable and safe to show, e.g. ``timed out after 90 s``."""
    error_kind: str
    """Machine-readable: ``timeout``, ``connection``, ``http_429``, ``bad_output``, ``deadline``."""
    latency_s: float
    usage: Usage = Usage()


MemberResult = Annotated[PanelAnswer | PanelFailure, Field(discriminator="kind")]


class Stance(BaseModel):
    model_config = _FROZEN

    model: str
    position: str


class Contradiction(BaseModel):
    model_config = _FROZEN

    topic: str
    stances: tuple[Stance, ...]


class UniqueInsight(BaseModel):
    model_config = _FROZEN

    model: str
    insight: str


class AnswerScores(BaseModel):
    """Scores from 1 (poor) to 10 (excellent)."""

    model_config = _FROZEN

    model: str
    accuracy: int = Field(ge=1, le=10)
    depth: int = Field(ge=1, le=10)
    completeness: int = Field(ge=1, le=10)
    clarity: int = Field(ge=1, le=10)
    relevance: int = Field(ge=1, le=10)

    @property
    def overall(self) -> float:
        return (self.accuracy + self.depth + self.completeness + self.clarity + self.relevance) / 5


class Analysis(BaseModel):
    """The judge's comparison, with anonymous labels already mapped back to model slugs."""

    model_config = _FROZEN

    consensus: tuple[str, ...] = ()
    contradictions: tuple[Contradiction, ...] = ()
    partial_coverage: tuple[str, ...] = ()
    unique_insights: tuple[UniqueInsight, ...] = ()
    blind_spots: tuple[str, ...] = ()
    scores: tuple[AnswerScores, ...] = ()


class StageCall(BaseModel):
    """The judge or writer call: who did it, what it cost, how long it took."""

    model_config = _FROZEN

    model: str
    served_by: str
    latency_s: float
    usage: Usage
    used_fallback: bool = False
    cut_at_tokens: int | None = None
    """The output cap the call's answer was cut at; ``None`` when it is complete."""


class StageLatency(BaseModel):
    model_config = _FROZEN

    panel_s: float
    judge_s: float
    writer_s: float
    total_s: float
    first_token_s: float | None = None
    """From the start of the fusion to the first fused-answer token."""


class Quote(BaseModel):
    """A conservative upper estimate of a fusion's cost, in micro-dollars."""

    model_config = _FROZEN

    micros: int = Field(ge=0)
    per_model: dict[str, int] = Field(default_factory=dict)
    unpriced: tuple[str, ...] = ()
    """Models with no known price; a fixed conservative allowance was used for them."""

    @property
    def usd(self) -> str:
        return format_usd(self.micros)


class FusionResult(BaseModel):
    """Everything a fusion produced. Serializes to JSON for ``fusion ask --json`` and for jobs."""

    model_config = _FROZEN

    request_id: str
    question: str
    pool: str
    answer: str
    analysis: Analysis | None
    analysis_note: str | None = None
    """Why there is no analysis (judge failed twice, output invalid…), when there is none."""
    panel: tuple[MemberResult, ...]
    judge: StageCall | None
    writer: StageCall
    latency: StageLatency
    usage: Usage
    """Totals over every call: panel, judge, writer, retries that were charged."""
    degraded: bool
    degraded_reasons: tuple[str, ...] = ()

    @property
    def answers(self) -> tuple[PanelAnswer, ...]:
        return tuple(m for m in self.panel if isinstance(m, PanelAnswer))

    @property
    def failures(self) -> tuple[PanelFailure, ...]:
        return tuple(m for m in self.panel if isinstance(m, PanelFailure))

    @property
    def cost_micros(self) -> int:
        return self.usage.cost_micros
