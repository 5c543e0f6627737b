"""``ProgressView``: the per-model status list a chat message shows while a fusion runs.

The events are folded by the core's ``FusionProgress`` (the terminal renders the same fold);
this adds the chat wording (each panel model waiting / answered in 3.2 s / failed: reason, then
the stage: judging, writing, done). ``apply`` says whether anything a reader would see changed,
so adapters only edit a message when it is worth it.
"""

from __future__ import annotations

from adapters.common.summary import short_model
from fusion_engine.events import FusionEvent
from fusion_engine.progress import FusionProgress, MemberProgress, format_seconds

__all__ = ["MemberStatus", "ProgressView", "member_line"]

MemberStatus = MemberProgress
"""The core's per-member state, under the name the adapters have used."""


def member_line(member: MemberProgress) -> str:
    """``gpt-5.4: answered in 3.2 s`` — plain text, model names are from the pool."""
    name = short_model(member.model)
    if member.state == "answered" and member.latency_s is not None:
        return f"{name}: answered in {format_seconds(member.latency_s)}"
    if member.state == "failed":
        return f"{name}: failed: {member.reason}"
    return f"{name}: waiting"


class ProgressView:
    """What a chat message shows of one fusion. Feed it every event with ``apply``."""

    def __init__(self) -> None:
        self.progress = FusionProgress()

    def apply(self, event: FusionEvent) -> bool:
        """Fold ``event`` in; True when what ``lines()`` shows changed."""
        before = self.lines()
        self.progress.apply(event)
        return self.lines() != before

    def stage_line(self) -> str:
        progress = self.progress
        total = len(progress.members)
        if progress.stage == "panel":
            return f"Asking {total} models… {progress.answered}/{total} answered"
        if progress.stage == "judging":
            return "Comparing the answers…"
        if progress.stage == "writing":
            return "Writing the fused answer…"
        return "Done."

    def lines(self) -> list[str]:
        """The stage line, then one line per panel model, in pool order."""
        return [self.stage_line(), *(member_line(m) for m in self.progress.members.values())]
