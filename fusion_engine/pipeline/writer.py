"""The writer stage: one fused answer from the question, the panel's answers and the analysis.

The writer sees the answers under the same anonymous labels the judge used, and the analysis
re-expressed in those labels, so it weighs content rather than model names; its prompt forbids
mentioning labels, drafts or models in the answer. Its text is streamed to ``on_text``.

Fallback rule (kept simple and honest): if the writer fails, ``pool.writer_fallback`` writes the
answer instead. If the first writer had already streamed some text before failing, the fallback
is asked without streaming: the partial text already shown is not extended with a different
answer, and the complete answer arrives in the result, which consumers render as the final
message (replacing the preview). If every writer fails, the fusion fails with ``FusionError``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from fusion_engine.errors import ModelCallError, ModelOutputError, StageError
from fusion_engine.llm.base import ChatMessage, TextSink, Usage
from fusion_engine.pipeline.judge import Labelled, render_answers, render_context
from fusion_engine.pipeline.panel import Caller, billed_usage, describe_failure, stage_request
from fusion_engine.pipeline.prompts import load_prompt, render_prompt
from fusion_engine.request import FusionRequest
from fusion_engine.result import Analysis, StageCall, cut_note

__all__ = ["NO_ANALYSIS", "WriterOutcome", "render_analysis", "run_writer", "writer_messages"]

NO_ANALYSIS = "(No analysis is available: compare the drafts yourself.)"


@dataclass(frozen=True, slots=True)
class WriterOutcome:
    text: str
    call: StageCall
    usage: Usage
    """Every writer call of this fusion (a failed first writer that reported usage included)."""
    degraded_reasons: tuple[str, ...] = ()


def render_analysis(analysis: Analysis | None, labels: dict[str, str]) -> str:
    """The analysis as compact JSON in anonymous labels (``labels``: model slug → letter)."""
    if analysis is None:
        return NO_ANALYSIS
    data = {
        "consensus": list(analysis.consensus),
        "contradictions": [
            {
                "topic": c.topic,
                "stances": [{"answer": labels[s.model], "position": s.position} for s in c.stances],
            }
            for c in analysis.contradictions
        ],
        "partial_coverage": list(analysis.partial_coverage),
        "unique_insights": [
            {"answer": labels[i.model], "insight": i.insight} for i in analysis.unique_insights
        ],
        "blind_spots": list(analysis.blind_spots),
        "scores": [
            {"answer": labels[s.model], "overall": s.overall, "accuracy": s.accuracy}
            for s in analysis.scores
        ],
    }
    return json.dumps(data, ensure_ascii=False, indent=1)


def writer_messages(
    request: FusionRequest, labelled: Sequence[Labelled], analysis: Analysis | None
) -> tuple[ChatMessage, ...]:
    labels = {item.answer.model: item.label for item in labelled}
    user = render_prompt(
        "writer_user.md",
        context=render_context(request),
        question=request.question,
        answers=render_answers(labelled),
        analysis=render_analysis(analysis, labels),
    )
    return (
        ChatMessage(role="system", content=load_prompt("writer_system.md")),
        ChatMessage(role="user", content=user),
    )


async def run_writer(
    caller: Caller,
    request: FusionRequest,
    labelled: Sequence[Labelled],
    analysis: Analysis | None,
    on_text: TextSink,
) -> WriterOutcome:
    """Write the fused answer, streaming it to ``on_text``; raise ``FusionError`` if no writer
    could."""
    pool = request.pool
    messages = writer_messages(request, labelled, analysis)
    streamed = False

    async def sink(text: str) -> None:
        nonlocal streamed
        if text:
            streamed = True
            await on_text(text)

    failures: list[str] = []
    spent = Usage()
    writers = [pool.writer] + [m for m in (pool.writer_fallback,) if m and m != pool.writer]
    for model in writers:
        started = caller.clock()
        chat = stage_request(
            pool,
            model,
            messages,
            max_tokens=pool.writer_max_tokens,
            temperature=(
                pool.temperature if pool.writer_temperature is None else pool.writer_temperature
            ),
        )
        try:
            completion, usage = await caller.call(chat, None if streamed else sink)
        except ModelCallError as exc:
            spent += billed_usage(exc)
            failures.append(f"writer {model} failed: {describe_failure(exc, chat.timeout_s)}")
            continue
        spent += usage  # an empty answer was still billed (as panel.py counts it)
        if not completion.text.strip():
            empty = ModelOutputError(model, "empty answer")
            failures.append(f"writer {model} failed: {describe_failure(empty, chat.timeout_s)}")
            continue
        call = StageCall(
            model=model,
            served_by=completion.served_by,
            latency_s=caller.clock() - started,
            usage=usage,
            used_fallback=model != pool.writer,
            cut_at_tokens=chat.max_tokens if completion.truncated else None,
        )
        reasons = tuple(failures) + ((f"{model} wrote the answer instead",) if failures else ())
        if completion.truncated:
            reasons += (f"the fused answer was {cut_note(chat.max_tokens)}",)
        return WriterOutcome(completion.text, call, spent, reasons)
    raise StageError(
        "The fused answer could not be written: " + "; ".join(failures) + ".",
        spent_micros=spent.cost_micros,
    )
