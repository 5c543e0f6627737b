"""The one fold of a fusion's events, which the terminal and the chat adapters both render."""

from __future__ import annotations

import io

import pytest

from adapters.common import ProgressView
from bots.terminal import ProgressView as TerminalProgress
from bots.terminal import make_console
from fusion_engine.progress import FusionProgress, MemberProgress, format_seconds
from tests.bots.samples import sample_events, sample_result


def test_the_fold_follows_members_judge_and_stages() -> None:
    result = sample_result(degraded=True)
    events = sample_events(result)
    progress = FusionProgress()
    seen = []
    for event in events:
        progress.apply(event)
        seen.append((progress.stage, progress.analysis))
    assert [m.state for m in progress.members.values()] == ["answered", "answered", "failed"]
    assert progress.members["m/gamma"] == MemberProgress(
        "m/gamma", "failed", latency_s=90.0, reason="timed out after 90 s"
    )
    assert progress.answered == 2
    assert (progress.judge, progress.writer) == ("m/judge", "m/writer")
    assert seen[0] == ("panel", None)
    assert ("judging", "pending") in seen
    assert seen[-1] == ("done", "ready" if result.analysis else "missing")
    assert progress.written_chars == len(result.answer)


def test_asking_is_a_state_of_its_own() -> None:
    progress = FusionProgress()
    for event in sample_events(sample_result())[:2]:
        progress.apply(event)
    assert [m.state for m in progress.members.values()] == ["asking", "waiting"]


def test_terminal_and_chat_render_the_same_fold() -> None:
    events = sample_events(sample_result(degraded=True))
    chat = ProgressView()
    terminal = TerminalProgress(make_console(io.StringIO()), live=False)
    for event in events:
        chat.apply(event)
        terminal.handle(event)
    assert terminal.progress == chat.progress


@pytest.mark.parametrize(
    ("seconds", "shown"), [(0.04, "0.0 s"), (3.25, "3.2 s"), (59.9, "59.9 s"), (65, "1 min 5 s")]
)
def test_one_duration_format(seconds: float, shown: str) -> None:
    assert format_seconds(seconds) == shown
