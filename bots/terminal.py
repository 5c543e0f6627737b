"""Rendering fusions in a terminal: live progress and the finished result.

Everything a model wrote (panel answers, the judge's analysis, the fused answer) is untrusted:
it reaches the terminal only as ``rich.text.Text`` built from :func:`safe_text`, so rich markup
in it is shown literally and control sequences (ANSI escapes, carriage returns, bidi overrides)
cannot repaint or disguise the screen. Consoles are made with markup off for the same reason.

On a terminal the panel's progress redraws in place (``rich.live.Live``), four times a second,
each running part (a member's call, the judge) with a spinner and the seconds it has run, so a
slow stage is seen to be alive; anywhere else (a pipe, a file, CI) each event prints one plain
line, so logs read top to bottom with no redraws.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

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
from fusion_engine.money import format_usd
from fusion_engine.progress import FusionProgress, MemberProgress, format_seconds
from fusion_engine.result import Analysis, FusionResult, PanelAnswer, cut_note

__all__ = ["ProgressView", "make_console", "render_result", "safe_text"]

_ESCAPE_SEQUENCES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: cursor moves, colours, clear screen
    r"|\x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)?"  # OSC: window title, hyperlinks
    r"|\x1b[@-Z\\^_]"  # other two-byte escapes
)
_COMPLETE_ESCAPE = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b\n]*(?:\x07|\x1b\\)|[@-Z\\^_])"
)
_MAX_HELD = 64
_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_SPINNER_FPS = 10
_REFRESHES_PER_S = 4
_UNSAFE_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def safe_text(text: str) -> str:
    """``text`` without escape sequences, control characters (newlines and tabs are kept) or
    bidi overrides, so it cannot move the cursor, retitle the window, or reorder what is seen."""
    return _UNSAFE_CHARS.sub("", _ESCAPE_SEQUENCES.sub("", text.replace("\r\n", "\n")))


def make_console(stream: TextIO, *, force_terminal: bool | None = None) -> Console:
    """A console on ``stream`` that never interprets markup or emoji codes in what it prints.

    Off a terminal, long lines are not hard-wrapped, so piped answers keep their own lines."""
    console = Console(
        file=stream,
        markup=False,
        emoji=False,
        highlight=False,
        force_terminal=force_terminal,
    )
    console.soft_wrap = not console.is_terminal
    return console


def _running(label: str, seconds: float | None) -> Text:
    """``⠹ asking… 22.4 s``: the spinner frame follows the elapsed time, so it turns at every
    redraw and a frozen one means a frozen display."""
    if seconds is None:
        return Text(label, style="cyan")
    frame = _SPINNER[int(seconds * _SPINNER_FPS) % len(_SPINNER)]
    return Text(f"{frame} {label} {format_seconds(seconds)}", style="cyan")


def _member_status(member: MemberProgress, running_for: float | None = None) -> Text:
    if member.state == "answered" and member.latency_s is not None:
        status = Text(f"answered in {format_seconds(member.latency_s)}", style="green")
        if member.served_by is not None and member.served_by != member.model:
            status.append(f" (served by {safe_text(member.served_by)})", style="dim")
        if member.cut_at_tokens is not None:
            status.append(f" ({cut_note(member.cut_at_tokens)})", style="yellow")
        return status
    if member.state == "failed":
        return Text(f"failed: {safe_text(member.reason or '')}", style="red")
    if member.state == "asking":
        return _running("asking…", running_for)
    return Text("waiting", style="dim")


def _judge_status(progress: FusionProgress, *, ticking: bool = False) -> Text:
    if progress.analysis == "ready":
        return Text("analysis ready", style="green")
    if progress.analysis == "missing":
        why = safe_text(progress.analysis_note or "no analysis")
        return Text(f"no analysis: {why}", style="yellow")
    since = progress.running_for(progress.judge_since) if ticking else None
    return _running("comparing the answers…", since)


class ProgressView:
    """Shows one fusion's progress events as they arrive; use as a context manager.

    Panel members and the judge are shown as a status table (redrawn live on a terminal, one
    line per change elsewhere); the fused answer is streamed as the writer produces it.
    """

    def __init__(
        self,
        console: Console,
        *,
        live: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._console = console
        self._use_live = console.is_terminal if live is None else live
        self._live: Live | None = None
        self.progress = FusionProgress(clock=clock)
        """The fold of the events shown so far (the same one the chat adapters render)."""
        self._held = ""
        self._streamed: list[str] = []
        self.streamed_answer = False
        """True while fused-answer text is being streamed (the line is still open)."""
        self.answer_printed = False
        """True once the fused answer was streamed in full; ``render_result`` need not repeat it."""

    def __enter__(self) -> ProgressView:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop_live()
        if self.streamed_answer:
            self._end_stream()

    def handle(self, event: FusionEvent) -> None:
        """Render one event."""
        self.progress.apply(event)
        match event:
            case FusionStarted(models=models, judge=judge, writer=writer):
                self._line(
                    Text.assemble(
                        ("Asking ", "bold"),
                        f"{len(models)} models: ",
                        ", ".join(safe_text(m) for m in models),
                        f" (judge {safe_text(judge)}, writer {safe_text(writer)})",
                    )
                )
                self._start_live()
            case MemberStarted(model=model):
                self._show_member(model, announce=False)
            case MemberFinished(answer=answer):
                self._show_member(answer.model)
            case MemberFailed(failure=failure):
                self._show_member(failure.model)
            case PanelDone(answered=answered, failed=failed):
                if not self._use_live:
                    self._line(Text(f"Panel done: {answered} answered, {failed} failed."))
            case JudgeStarted() | AnalysisReady():
                self._show_judge()
            case WriterStarted(model=model):
                self._stop_live()
                self._console.print(
                    Text.assemble(("Fused answer", "bold"), f" (writer {safe_text(model)}):")
                )
            case WriterDelta(text=text):
                self._stream(text)
            case Done(result=result):
                self._stop_live()
                if self.streamed_answer:
                    self._end_stream()
                streamed = "".join(self._streamed).strip()
                self.answer_printed = bool(streamed) and streamed == result.answer.strip()
                if streamed and not self.answer_printed:
                    self._console.print(
                        Text(
                            "(The writer stopped part-way; the complete answer follows.)",
                            style="yellow",
                        )
                    )

    def _stream(self, text: str) -> None:
        """Print a piece of the answer, holding back an escape sequence cut in two by the
        stream so that its tail is stripped with it instead of printed as stray characters."""
        self._streamed.append(text)
        text = self._held + text
        self._held = ""
        cut = text.rfind("\x1b")
        if cut != -1 and len(text) - cut < _MAX_HELD and not _COMPLETE_ESCAPE.match(text, cut):
            text, self._held = text[:cut], text[cut:]
        self._console.out(safe_text(text), end="")
        self.streamed_answer = True

    def _end_stream(self) -> None:
        self._console.out(safe_text(self._held))
        self._held = ""
        self.streamed_answer = False

    def _line(self, text: Text) -> None:
        if self._live is not None:
            self._live.console.print(text)
        else:
            self._console.print(text)

    def _show_member(self, model: str, *, announce: bool = True) -> None:
        if self._live is not None:
            self._refresh()
        elif announce:
            status = _member_status(self.progress.members[model])
            self._line(Text.assemble("  ", safe_text(model), ": ", status))

    def _show_judge(self) -> None:
        if not self._use_live:
            judge = safe_text(self.progress.judge or "judge")
            status = _judge_status(self.progress)
            self._line(Text.assemble(("Judge ", "bold"), judge, ": ", status))
        elif self._live is None:
            self._start_live()
        else:
            self._refresh()

    def status(self) -> Table:
        """The live status table as of now: each member, then the judge, running parts with a
        spinner and their elapsed seconds. Redrawn from the refresh thread, so it reads the
        fold through copies (``list`` of a dict is taken whole)."""
        progress = self.progress
        table = Table.grid(padding=(0, 2))
        table.add_column(no_wrap=True)
        table.add_column()
        for model, member in list(progress.members.items()):
            since = progress.running_for(member.asking_since)
            table.add_row(Text(safe_text(model)), _member_status(member, since))
        if progress.analysis is not None:
            judge = safe_text(progress.judge or "judge")
            status = _judge_status(progress, ticking=True)
            table.add_row(Text.assemble(("judge ", "bold"), judge), status)
        return table

    def _start_live(self) -> None:
        if self._use_live and self._live is None:
            self._live = Live(
                console=self._console,
                get_renderable=self.status,
                auto_refresh=True,
                refresh_per_second=_REFRESHES_PER_S,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.start(refresh=True)

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.refresh()

    def _stop_live(self) -> None:
        if self._live is not None:
            self._live.refresh()
            self._live.stop()
            self._live = None


def _heading(console: Console, title: str) -> None:
    console.print()
    console.print(Text(title, style="bold underline"))


def _bullets(console: Console, items: Iterable[Text]) -> None:
    for item in items:
        console.print(Text.assemble("  - ", item))


def _render_analysis(console: Console, analysis: Analysis) -> None:
    sections: list[tuple[str, list[Text]]] = [
        ("Where they agree", [Text(safe_text(c)) for c in analysis.consensus]),
        (
            "Where they differ",
            [
                Text.assemble(
                    (safe_text(c.topic), "bold"),
                    *(f"\n      {safe_text(s.model)}: {safe_text(s.position)}" for s in c.stances),
                )
                for c in analysis.contradictions
            ],
        ),
        (
            "Only one saw",
            [
                Text.assemble((safe_text(u.model), "bold"), ": ", safe_text(u.insight))
                for u in analysis.unique_insights
            ],
        ),
        ("Covered by only some", [Text(safe_text(p)) for p in analysis.partial_coverage]),
        ("Nobody covered", [Text(safe_text(b)) for b in analysis.blind_spots]),
    ]
    for title, items in sections:
        if items:
            _heading(console, title)
            _bullets(console, items)
    if analysis.scores:
        _heading(console, "Scores (1-10)")
        table = Table(show_edge=False, pad_edge=False)
        for column in ("model", "accuracy", "depth", "complete", "clarity", "relevance", "overall"):
            table.add_column(column, justify="left" if column == "model" else "right")
        for s in sorted(analysis.scores, key=lambda s: s.overall, reverse=True):
            table.add_row(
                Text(safe_text(s.model)),
                *(str(v) for v in (s.accuracy, s.depth, s.completeness, s.clarity, s.relevance)),
                f"{s.overall:.1f}",
            )
        console.print(table)


def _render_answers(console: Console, answers: Iterable[PanelAnswer]) -> None:
    for answer in answers:
        served = f" via {safe_text(answer.served_by)}" if answer.served_by != answer.model else ""
        cut = "" if answer.cut_at_tokens is None else f" · {cut_note(answer.cut_at_tokens)}"
        console.print()
        console.rule(
            Text(
                f"{safe_text(answer.model)}{served} · {format_seconds(answer.latency_s)} · "
                f"{answer.usage.total_tokens:,} tokens{cut}",
                style="bold",
            ),
            align="left",
        )
        console.print(Text(safe_text(answer.text)))


def render_result(console: Console, result: FusionResult, *, answer_printed: bool = False) -> None:
    """The finished fusion: answer (unless already streamed), analysis, each answer, footer."""
    if result.degraded:
        console.print()
        console.print(
            Text.assemble(
                ("DEGRADED: ", "bold red"),
                "; ".join(safe_text(r) for r in result.degraded_reasons)
                or "some models did not take part",
                style="red",
            )
        )
    if not answer_printed:
        console.print()
        console.print(Text("Fused answer", style="bold"))
        console.print(Text(safe_text(result.answer)))
    if result.analysis is not None:
        _render_analysis(console, result.analysis)
    else:
        _heading(console, "No analysis")
        console.print(Text(safe_text(result.analysis_note or "the judge gave no analysis")))
    _heading(console, "Each model's answer")
    _render_answers(console, result.answers)
    _render_footer(console, result)


def _render_footer(console: Console, result: FusionResult) -> None:
    lat, usage = result.latency, result.usage
    console.print()
    console.rule(style="dim")
    lines = [
        Text.assemble(
            ("Models: ", "bold"),
            f"{len(result.answers)} of {len(result.panel)} answered",
            f" ({', '.join(safe_text(a.model) for a in result.answers)})",
        )
    ]
    lines += [
        Text.assemble(
            ("Missing: ", "bold red"), safe_text(f.model), " - ", safe_text(f.reason), style="red"
        )
        for f in result.failures
    ]
    judge = f"judge {safe_text(result.judge.served_by)}" if result.judge is not None else "no judge"
    lines.append(
        Text.assemble(
            ("Stages: ", "bold"),
            f"{judge}, writer {safe_text(result.writer.served_by)}",
        )
    )
    first = (
        "" if lat.first_token_s is None else f", first token at {format_seconds(lat.first_token_s)}"
    )
    lines.append(
        Text.assemble(
            ("Latency: ", "bold"),
            f"panel {format_seconds(lat.panel_s)}, judge {format_seconds(lat.judge_s)}, "
            f"writer {format_seconds(lat.writer_s)}, total {format_seconds(lat.total_s)}{first}",
        )
    )
    lines.append(
        Text.assemble(
            ("Tokens: ", "bold"),
            f"{usage.prompt_tokens:,} in, {usage.completion_tokens:,} out, "
            f"{usage.total_tokens:,} total",
        )
    )
    source = {"reported": "as reported", "priced": "from list prices"}.get(
        usage.cost_source, usage.cost_source
    )
    lines.append(Text.assemble(("Cost: ", "bold"), f"{format_usd(usage.cost_micros)} ({source})"))
    console.print(Group(*lines))
