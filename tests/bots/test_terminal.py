"""Rendering of progress and results: untrusted text stays literal, degraded results say so."""

from __future__ import annotations

import io
import re
import threading

import pytest

from bots.commands.pools import render_pools
from bots.terminal import ProgressView, make_console, render_result, safe_text
from fusion_engine.config import load_config
from fusion_engine.events import FusionEvent, JudgeStarted, WriterDelta
from fusion_engine.result import Quote
from tests.bots.samples import sample_events, sample_result


def _render(*, terminal: bool, degraded: bool = False, analysis: bool = True) -> str:
    buf = io.StringIO()
    console = make_console(buf, force_terminal=terminal)
    result = sample_result(degraded=degraded, analysis=analysis)
    with ProgressView(console) as view:
        for event in sample_events(result):
            view.handle(event)
    render_result(console, result, answer_printed=view.answer_printed)
    return buf.getvalue()


def test_safe_text_strips_control_sequences_but_keeps_layout() -> None:
    assert safe_text("a\x1b[2Jb\r\nc\td\u202ee\x07") == "ab\nc\tde"
    assert safe_text("x\x1b]0;evil title\x07y\x1b[31mz") == "xyz"


def test_plain_output_has_every_part_and_no_escape_codes() -> None:
    out = _render(terminal=False)
    assert "\x1b" not in out
    for expected in (
        "m/alpha: answered in 1.2 s",
        "served by m/beta-fallback",
        "Judge m/judge: analysis ready",
        "Fused answer (writer m/writer):\nThe fused answer is 42.\n",
        "Where they agree",
        "Where they differ",
        "m/beta: meters",
        "Only one saw",
        "Nobody covered",
        "Scores (1-10)",
        "Alpha says 42.",
        "Latency: panel 1.2 s, judge 1.0 s, writer 1.0 s, total 3.2 s, first token at 2.4 s",
        "Tokens: 400 in, 200 out, 600 total",
        "Cost: $0.0050 (as reported)",
    ):
        assert expected in out, expected
    assert out.count("The fused answer is 42.") == 1
    assert "DEGRADED" not in out


@pytest.mark.parametrize("terminal", [False, True])
def test_model_text_is_shown_literally(terminal: bool) -> None:
    out = _render(terminal=terminal)
    assert "[bold red]pwned[/] :smile:" in out
    assert "\x1b[2J" not in out
    assert "\x1b]0;" not in out
    assert "😄" not in out


def test_degraded_result_names_missing_models_and_why() -> None:
    out = _render(terminal=False, degraded=True)
    assert "DEGRADED: m/gamma did not answer: timed out after 90 s" in out
    assert "m/gamma: failed: timed out after 90 s" in out
    assert "Missing: m/gamma - timed out after 90 s" in out
    assert "Models: 2 of 3 answered" in out


def test_missing_analysis_is_explained() -> None:
    out = _render(terminal=False, analysis=False)
    assert "no analysis: judge output was not valid JSON twice" in out
    assert "Where they agree" not in out


def test_live_progress_redraws_on_a_terminal() -> None:
    out = _render(terminal=True)
    assert "\x1b[1A" in out  # cursor up: the status table was redrawn in place
    assert "answered in 1.2 s" in out
    assert "The fused answer is 42." in out


def test_result_without_streaming_prints_the_answer() -> None:
    buf = io.StringIO()
    render_result(make_console(buf), sample_result())
    assert "Fused answer\nThe fused answer is 42." in buf.getvalue()


def test_pools_show_default_knobs_and_quotes() -> None:
    config = load_config()
    buf = io.StringIO()
    quotes: dict[str, Quote | None] = {
        "research": Quote(micros=123_456, unpriced=("qwen/qwen3-max",)),
        "budget": Quote(micros=2_000),
    }
    render_pools(make_console(buf), config, quotes)
    out = buf.getvalue()
    assert "research (default)" in out
    assert "technical\n" in out
    assert re.search(r"quorum +3 of 5", out)
    assert "per call 90 s, grace 8 s, panel deadline 120 s, retries 2" in out
    said = " ".join(out.split())
    assert (
        "up to $0.123456 (no price listed for qwen/qwen3-max, so counted at a cautious $15.00 "
        "in / $75.00 out per million tokens; the real cost is likely lower)"
    ) in said
    assert "allowance" not in said
    assert "up to $0.0020" in out
    assert "unknown (no prices available)" in out
    assert "google/gemini-3.1-pro-preview (fallback google/gemini-2.5-pro)" in out


@pytest.mark.parametrize(
    "pieces",
    [
        ["ab\x1b[", "2Jcd"],
        ["ab\x1b", "[31mcd"],
        ["ab\x1b]0;ti", "tle\x07cd"],
        ["ab", "cd\x1b"],
    ],
    ids=["csi", "esc-alone", "osc", "trailing-esc"],
)
def test_escape_sequence_split_across_stream_pieces_is_stripped(pieces: list[str]) -> None:
    buf = io.StringIO()
    with ProgressView(make_console(buf)) as view:
        for piece in pieces:
            view.handle(WriterDelta(text=piece))
    assert buf.getvalue() == "abcd\n"


def test_an_answer_replaced_after_a_failed_stream_is_printed_in_full() -> None:
    buf = io.StringIO()
    console = make_console(buf)
    result = sample_result()
    events: list[FusionEvent] = [e for e in sample_events(result) if not isinstance(e, WriterDelta)]
    events.insert(-1, WriterDelta(text="The first writer got this f"))
    with ProgressView(console) as view:
        for event in events:
            view.handle(event)
    assert not view.answer_printed
    render_result(console, result, answer_printed=view.answer_printed)
    out = buf.getvalue()
    assert "The first writer got this f\n(The writer stopped part-way" in out
    assert "Fused answer\nThe fused answer is 42." in out


def test_a_cut_answer_says_so() -> None:
    result = sample_result()
    cut = result.answers[0].model_copy(update={"cut_at_tokens": 1500})
    result = result.model_copy(update={"panel": (cut, *result.panel[1:])})
    buf = io.StringIO()
    console = make_console(buf, force_terminal=False)
    with ProgressView(console) as view:
        for event in sample_events(result):
            view.handle(event)
    render_result(console, result, answer_printed=view.answer_printed)
    out = buf.getvalue()
    assert "m/alpha: answered in 1.2 s (cut at 1,500 tokens)" in out
    assert re.search(r"m/alpha · 1\.2 s · [\d,]+ tokens · cut at 1,500 tokens", out)


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _status_text(view: ProgressView) -> str:
    buf = io.StringIO()
    make_console(buf).print(view.status())
    return buf.getvalue()


def test_running_parts_show_a_spinner_and_the_seconds_they_have_run() -> None:
    """The judge line of a slow stage counts up instead of sitting unchanged, and the spinner
    frame moves with the time (a fake clock: the seconds are exact, no sleeping)."""
    clock = FakeClock(100.0)
    view = ProgressView(make_console(io.StringIO()), live=False, clock=clock)
    events = sample_events(sample_result())
    view.handle(events[0])  # FusionStarted
    view.handle(events[1])  # the first member's call starts at 100.0
    clock.now = 103.25
    assert "m/alpha  ⠹ asking… 3.2 s" in _status_text(view)
    clock.now = 103.5
    assert "m/alpha  ⠴ asking… 3.5 s" in _status_text(view)
    for event in events[2 : events.index(JudgeStarted(model="m/judge")) + 1]:
        view.handle(event)  # the judge starts at 103.5
    clock.now = 125.5
    text = _status_text(view)
    assert "judge m/judge  ⠋ comparing the answers… 22.0 s" in text
    assert "answered in 1.2 s" in text  # a finished member shows its latency, not a clock


def test_the_live_display_redraws_between_events() -> None:
    """With no event arriving, the refresh thread still redraws (it reads the clock), so the
    seconds keep counting while a stage runs."""
    redrawn = threading.Event()
    main = threading.get_ident()

    def clock() -> float:
        if threading.get_ident() != main:
            redrawn.set()
        return 100.0

    console = make_console(io.StringIO(), force_terminal=True)
    with ProgressView(console, clock=clock) as view:
        for event in sample_events(sample_result())[:2]:
            view.handle(event)
        assert redrawn.wait(timeout=5)
