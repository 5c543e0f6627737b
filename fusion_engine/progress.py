"""``FusionProgress``: the one fold of a fusion's event stream into plain state.

Every surface that shows a fusion while it runs (the terminal, a Slack or Discord message)
needs the same facts: which panel members are waiting, asking, answered (how fast, served by
whom, cut short) or failed (why), which stage the fusion is in, what the judge made of it, how
much the writer has written. Folding the events once, here, keeps those surfaces from drifting
apart; each renders this state its own way. Display concerns (wording, escaping, timing of
edits) stay with the renderers.

The fold also notes, on its ``clock``, when each running part began (a member's call, the
judge), so a surface can say how long it has been running: a judge line unchanged for 22 s
reads as a hang unless it counts. Those instants are left out of equality, so two folds of the
same events compare equal whatever their clocks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

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

__all__ = ["FusionProgress", "MemberProgress", "Stage", "format_seconds"]

Stage = Literal["panel", "judging", "writing", "done"]


def format_seconds(seconds: float) -> str:
    """``3.2 s`` under a minute, ``1 min 5 s`` above: how every surface shows a duration."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs} s"


@dataclass
class MemberProgress:
    """One panel member, as far as the events told."""

    model: str
    state: Literal["waiting", "asking", "answered", "failed"] = "waiting"
    latency_s: float | None = None
    reason: str | None = None
    served_by: str | None = None
    cut_at_tokens: int | None = None
    asking_since: float | None = field(default=None, compare=False)
    """When its call began (the fold's clock), while it is ``asking``."""


@dataclass
class FusionProgress:
    """Mutable state of one fusion's progress. Feed it every event with ``apply``."""

    members: dict[str, MemberProgress] = field(default_factory=dict)
    """Panel members in pool order."""
    stage: Stage = "panel"
    judge: str | None = None
    analysis: Literal["pending", "ready", "missing"] | None = None
    """``None`` until the judge starts; ``missing`` when it gave no usable analysis."""
    analysis_note: str | None = None
    writer: str | None = None
    written_chars: int = 0
    judge_since: float | None = field(default=None, compare=False)
    """When the judge began (the fold's clock)."""
    clock: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)

    def apply(self, event: FusionEvent) -> None:
        """Fold ``event`` in."""
        match event:
            case FusionStarted(models=models, judge=judge, writer=writer):
                for model in models:
                    self.members.setdefault(model, MemberProgress(model))
                self.judge, self.writer = judge, writer
            case MemberStarted(model=model):
                member = self.members.setdefault(model, MemberProgress(model))
                if member.state == "waiting":
                    member.state, member.asking_since = "asking", self.clock()
            case MemberFinished(answer=answer):
                self.members[answer.model] = MemberProgress(
                    answer.model,
                    "answered",
                    latency_s=answer.latency_s,
                    served_by=answer.served_by,
                    cut_at_tokens=answer.cut_at_tokens,
                )
            case MemberFailed(failure=failure):
                self.members[failure.model] = MemberProgress(
                    failure.model, "failed", latency_s=failure.latency_s, reason=failure.reason
                )
            case PanelDone():
                self.stage = "judging"
            case JudgeStarted(model=model):
                self.stage, self.judge, self.analysis = "judging", model, "pending"
                self.judge_since = self.clock()
            case AnalysisReady(analysis=analysis, note=note):
                self.stage = "judging"
                self.analysis = "ready" if analysis is not None else "missing"
                self.analysis_note = note
            case WriterStarted(model=model):
                self.stage, self.writer = "writing", model
            case WriterDelta(text=text):
                self.written_chars += len(text)
            case Done():
                self.stage = "done"

    def running_for(self, since: float | None) -> float | None:
        """Seconds since ``since`` (``asking_since``, ``judge_since``) on the fold's clock."""
        return None if since is None else max(0.0, self.clock() - since)

    @property
    def answered(self) -> int:
        return sum(1 for m in self.members.values() if m.state == "answered")
