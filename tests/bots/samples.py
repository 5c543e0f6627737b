"""Hand-made events and results for rendering tests (no engine, no server)."""

from __future__ import annotations

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
from fusion_engine.llm.base import Usage
from fusion_engine.result import (
    Analysis,
    AnswerScores,
    Contradiction,
    FusionResult,
    PanelAnswer,
    PanelFailure,
    StageCall,
    StageLatency,
    Stance,
    UniqueInsight,
)

HOSTILE = "[bold red]pwned[/] :smile: \x1b[2J\x1b]0;title\x07 @everyone"
"""Text a model might write to attack a terminal: rich markup, emoji codes, ANSI escapes."""


def usage(prompt: int = 100, completion: int = 50, cost: int = 1234) -> Usage:
    return Usage(
        prompt_tokens=prompt, completion_tokens=completion, cost_micros=cost, cost_source="reported"
    )


def sample_result(*, degraded: bool = False, analysis: bool = True) -> FusionResult:
    panel: list[PanelAnswer | PanelFailure] = [
        PanelAnswer(
            model="m/alpha",
            served_by="m/alpha",
            text="Alpha says 42.",
            latency_s=1.2,
            usage=usage(),
        ),
        PanelAnswer(
            model="m/beta",
            served_by="m/beta-fallback",
            text=f"Beta says {HOSTILE}",
            latency_s=0.7,
            usage=usage(),
        ),
    ]
    if degraded:
        panel.append(
            PanelFailure(
                model="m/gamma", reason="timed out after 90 s", error_kind="timeout", latency_s=90
            )
        )
    result_analysis = (
        Analysis(
            consensus=("The answer is 42.",),
            contradictions=(
                Contradiction(
                    topic="units",
                    stances=(
                        Stance(model="m/alpha", position="unitless"),
                        Stance(model="m/beta", position="meters"),
                    ),
                ),
            ),
            unique_insights=(UniqueInsight(model="m/beta", insight="cites Douglas Adams"),),
            blind_spots=("nobody asked why",),
            scores=(
                AnswerScores(
                    model="m/alpha", accuracy=8, depth=6, completeness=7, clarity=9, relevance=9
                ),
                AnswerScores(
                    model="m/beta", accuracy=5, depth=5, completeness=5, clarity=5, relevance=5
                ),
            ),
        )
        if analysis
        else None
    )
    return FusionResult(
        request_id="r1",
        question="What is the answer?",
        pool="research",
        answer="The fused answer is 42.",
        analysis=result_analysis,
        analysis_note=None if analysis else "judge output was not valid JSON twice",
        panel=tuple(panel),
        judge=StageCall(model="m/judge", served_by="m/judge", latency_s=1.0, usage=usage())
        if analysis
        else None,
        writer=StageCall(model="m/writer", served_by="m/writer", latency_s=1.0, usage=usage()),
        latency=StageLatency(
            panel_s=1.2, judge_s=1.0, writer_s=1.0, total_s=3.2, first_token_s=2.4
        ),
        usage=usage(400, 200, 5000),
        degraded=degraded,
        degraded_reasons=("m/gamma did not answer: timed out after 90 s",) if degraded else (),
    )


def sample_events(result: FusionResult) -> list[FusionEvent]:
    models = tuple(m.model for m in result.panel)
    events: list[FusionEvent] = [
        FusionStarted(
            request_id=result.request_id, models=models, judge="m/judge", writer="m/writer"
        )
    ]
    events += [MemberStarted(model=m) for m in models]
    for member in result.panel:
        if isinstance(member, PanelAnswer):
            events.append(MemberFinished(answer=member))
        else:
            events.append(MemberFailed(failure=member))
    events += [
        PanelDone(answered=len(result.answers), failed=len(result.failures)),
        JudgeStarted(model="m/judge"),
        AnalysisReady(analysis=result.analysis, note=result.analysis_note),
        WriterStarted(model="m/writer"),
    ]
    answer = result.answer
    events += [WriterDelta(text=answer[i : i + 5]) for i in range(0, len(answer), 5)]
    events.append(Done(result=result))
    return events
