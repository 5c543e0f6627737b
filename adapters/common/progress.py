"""``ProgressView``: the per-model status list a chat message shows while a fusion runs.

It folds ``FusionEvent``s into plain state (each panel model waiting / answered in 3.2 s /
failed: reason, then the stage: judging, writing, done). ``apply`` says whether anything a
reader would see changed, so adapters only edit a message when it is worth it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from adapters.common.summary import format_seconds, short_model
from fusion_engine.events import (
    AnalysisReady,
    Done,
    FusionEvent,
    FusionStarted,
    JudgeStarted,
    MemberFailed,
    MemberFinished,
    MemberStarted,
    PanelDone,
    WriterDelta,
    WriterStarted,
)

__all__ = ["MemberStatus", "ProgressView", "Stage"]

Stage = Literal["panel", "judging", "writing", "done"]


@dataclass
class MemberStatus:
    model: str
    state: Literal["waiting", "answered", "failed"] = "waiting"
    latency_s: float | None = None
    reason: str | None = None

    def line(self) -> str:
        """``gpt-5.4: answered in 3.2 s`` — plain text, model names are from the pool."""
        name = short_model(self.model)
        if self.state == "answered" and self.latency_s is not None:
            return f"{name}: answered in {format_seconds(self.latency_s)}"
        if self.state == "failed":
            return f"{name}: failed: {self.reason}"
        return f"{name}: waiting"


@dataclass
class ProgressView:
    """Mutable view of one fusion's progress. Feed it every event with ``apply``."""

    members: dict[str, MemberStatus] = field(default_factory=dict)
    stage: Stage = "panel"
    judge: str | None = None
    writer: str | None = None
    written_chars: int = 0

    def apply(self, event: FusionEvent) -> bool:
        """Fold ``event`` in; True when what ``lines()`` shows changed."""
        before = self.lines()
        match event:
            case FusionStarted(models=models, judge=judge, writer=writer):
                for model in models:
                    self.members.setdefault(model, MemberStatus(model))
                self.judge, self.writer = judge, writer
            case MemberStarted(model=model):
                self.members.setdefault(model, MemberStatus(model))
            case MemberFinished(answer=answer):
                self.members[answer.model] = MemberStatus(
                    answer.model, "answered", latency_s=answer.latency_s
                )
            case MemberFailed(failure=failure):
                self.members[failure.model] = MemberStatus(
                    failure.model, "failed", latency_s=failure.latency_s, reason=failure.reason
                )
            case PanelDone() | JudgeStarted() | AnalysisReady():
                self.stage = "judging"
            case WriterStarted():
                self.stage = "writing"
            case WriterDelta(text=text):
                self.written_chars += len(text)
            case Done():
                self.stage = "done"
        return self.lines() != before

    @property
    def answered(self) -> int:
        return sum(1 for m in self.members.values() if m.state == "answered")

    def stage_line(self) -> str:
        total = len(self.members)
        if self.stage == "panel":
            return f"Asking {total} models… {self.answered}/{total} answered"
        if self.stage == "judging":
            return "Comparing the answers…"
        if self.stage == "writing":
            return "Writing the fused answer…"
        return "Done."

    def lines(self) -> list[str]:
        """The stage line, then one line per panel model, in pool order."""
        return [self.stage_line(), *(m.line() for m in self.members.values())]
