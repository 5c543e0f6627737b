"""The judge stage: compare the panel's answers, anonymized and shuffled, into an ``Analysis``.

The judge sees "Answer A", "Answer B"… in a random order, so neither a model's name nor its
position in the pool can sway it. Its reply is untrusted text: it is parsed into a private
pydantic model, references to labels that do not exist are dropped, and labels are mapped back
to model slugs. Out-of-range scores or a wrong shape are not clamped or guessed at: the judge is
asked once more with a short correction, and if that fails too the fusion goes on without an
analysis and says so. A judge that fails outright (``ModelCallError``) is replaced by the pool's
``judge_fallback``; an endpoint that rejects structured output is asked again with the schema in
the prompt only.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from fusion_engine.errors import ModelCallError, ModelHTTPError
from fusion_engine.llm.base import ChatMessage, Usage
from fusion_engine.pipeline.panel import Caller, billed_usage, describe_failure, stage_request
from fusion_engine.pipeline.prompts import load_prompt, render_prompt
from fusion_engine.request import FusionRequest
from fusion_engine.result import (
    Analysis,
    AnswerScores,
    Contradiction,
    PanelAnswer,
    StageCall,
    Stance,
    UniqueInsight,
)

__all__ = [
    "JUDGE_SCHEMA",
    "LABELS",
    "JudgeOutcome",
    "Labelled",
    "judge_messages",
    "label_answers",
    "parse_analysis",
    "render_answers",
    "render_context",
    "run_judge",
]

LABELS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ECHO_CHARS = 4_000
_DELIMITER = re.compile(r"<(\s*/?\s*(?:answer|question)\b)", re.IGNORECASE)
_LABEL = re.compile(r"(?:answer\s+)?([A-Z])", re.IGNORECASE)
_FENCE = re.compile(r"^```[a-zA-Z]*\s*(.*?)\s*```$", re.DOTALL)


def _score(value: int) -> int:
    if not 1 <= value <= 10:
        raise ValueError(f"score {value} is outside 1-10")
    return value


_Score = Annotated[int, AfterValidator(_score)]
_WIRE = ConfigDict(extra="ignore", json_schema_extra={"additionalProperties": False})


class _Stance(BaseModel):
    model_config = _WIRE
    answer: str
    position: str


class _Contradiction(BaseModel):
    model_config = _WIRE
    topic: str
    stances: list[_Stance]


class _Insight(BaseModel):
    model_config = _WIRE
    answer: str
    insight: str


class _Scores(BaseModel):
    model_config = _WIRE
    answer: str
    accuracy: _Score
    depth: _Score
    completeness: _Score
    clarity: _Score
    relevance: _Score


class _JudgeReply(BaseModel):
    # The judge's JSON, with anonymous labels; never leaves this module. (A docstring would be
    # sent to the endpoint as the schema's description.)
    model_config = ConfigDict(
        extra="ignore", title="judge_analysis", json_schema_extra={"additionalProperties": False}
    )
    consensus: list[str]
    contradictions: list[_Contradiction]
    partial_coverage: list[str]
    unique_insights: list[_Insight]
    blind_spots: list[str]
    scores: list[_Scores]


JUDGE_SCHEMA: dict[str, Any] = _JudgeReply.model_json_schema()
"""Sent as ``ChatRequest.json_schema``; every field required, no extra keys (strict mode)."""


@dataclass(frozen=True, slots=True)
class Labelled:
    """A panel answer with the anonymous letter the judge and writer know it by."""

    label: str
    answer: PanelAnswer


@dataclass(frozen=True, slots=True)
class JudgeOutcome:
    analysis: Analysis | None
    note: str | None
    """Why there is no analysis, when there is none."""
    call: StageCall | None
    """The judge call whose reply was used (or rejected twice); ``None`` if every judge failed."""
    usage: Usage
    """Every judge call of this fusion, including rejected replies."""
    degraded_reasons: tuple[str, ...] = field(default=())


def label_answers(answers: Sequence[PanelAnswer], rng: random.Random) -> tuple[Labelled, ...]:
    """Shuffle the answers and give them letters A, B, C… in the shuffled order."""
    shuffled = list(answers)
    rng.shuffle(shuffled)
    return tuple(Labelled(LABELS[i], a) for i, a in enumerate(shuffled))


def render_answers(labelled: Sequence[Labelled]) -> str:
    """Each answer inside ``<answer label="X">`` delimiters it cannot close or forge itself."""
    return "\n\n".join(
        f'<answer label="{item.label}">\n{_defuse(item.answer.text.strip())}\n</answer>'
        for item in labelled
    )


def _defuse(text: str) -> str:
    """Break any ``<answer``/``<question`` tag inside untrusted text so it cannot close ours."""
    return _DELIMITER.sub(r"‹\1", text)


def render_context(request: FusionRequest) -> str:
    """The thread's earlier turns, so the judge and writer can read a follow-up question."""
    if not request.history:
        return ""
    turns = "\n".join(f"{t.role}: {_defuse(t.content.strip())}" for t in request.history)
    return f"Earlier in this conversation (context for the question):\n{turns}\n\n"


def judge_messages(request: FusionRequest, labelled: Sequence[Labelled]) -> tuple[ChatMessage, ...]:
    labels = ", ".join(f"Answer {item.label}" for item in labelled)
    user = render_prompt(
        "judge_user.md",
        context=render_context(request),
        question=_defuse(request.question),
        labels=labels,
        answers=render_answers(labelled),
    )
    return (
        ChatMessage(role="system", content=load_prompt("judge_system.md")),
        ChatMessage(role="user", content=user),
    )


def _json_text(text: str) -> str:
    text = text.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    start, end = text.find("{"), text.rfind("}")
    return text[start : end + 1] if 0 <= start < end else text


def _problem(exc: ValidationError) -> str:
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "reply"
    return f"{where}: {first['msg']}"


def parse_analysis(text: str, models_by_label: dict[str, str]) -> Analysis | str:
    """The judge's reply as an ``Analysis`` with model slugs, or a short description of what is
    wrong with it. Items that only name unknown labels are dropped, not guessed at."""
    try:
        reply = _JudgeReply.model_validate_json(_json_text(text))
    except ValidationError as exc:
        return _problem(exc)

    def model_of(label: str) -> str | None:
        match = _LABEL.fullmatch(label.strip())
        return models_by_label.get(match.group(1).upper()) if match else None

    contradictions = []
    for item in reply.contradictions:
        stances = tuple(
            Stance(model=model, position=s.position)
            for s in item.stances
            if (model := model_of(s.answer)) is not None
        )
        if stances:
            contradictions.append(Contradiction(topic=item.topic, stances=stances))
    scores: dict[str, AnswerScores] = {}
    for s in reply.scores:
        model = model_of(s.answer)
        if model is not None and model not in scores:
            scores[model] = AnswerScores(model=model, **s.model_dump(exclude={"answer"}))
    return Analysis(
        consensus=tuple(reply.consensus),
        contradictions=tuple(contradictions),
        partial_coverage=tuple(reply.partial_coverage),
        unique_insights=tuple(
            UniqueInsight(model=model, insight=i.insight)
            for i in reply.unique_insights
            if (model := model_of(i.answer)) is not None
        ),
        blind_spots=tuple(reply.blind_spots),
        scores=tuple(scores.values()),
    )


def _rejects_structured_output(exc: ModelHTTPError) -> bool:
    detail = exc.detail.lower()
    return exc.status == 400 and any(
        word in detail for word in ("response_format", "json_schema", "structured")
    )


async def run_judge(
    caller: Caller, request: FusionRequest, labelled: Sequence[Labelled]
) -> JudgeOutcome:
    """Ask the judge (then its fallback) for an analysis; never raises for a model failure."""
    pool = request.pool
    models_by_label = {item.label: item.answer.model for item in labelled}
    base = judge_messages(request, labelled)
    spent = Usage()
    failures: list[str] = []
    judges = [pool.judge] + [m for m in (pool.judge_fallback,) if m and m != pool.judge]
    for model in judges:
        started = caller.clock()
        messages, problem = base, None
        schema: dict[str, Any] | None = JUDGE_SCHEMA
        while True:
            chat = stage_request(
                pool, model, messages, max_tokens=pool.judge_max_tokens, json_schema=schema
            )
            try:
                completion, usage = await caller.call(chat)
            except ModelCallError as exc:
                spent += billed_usage(exc)
                if (
                    schema is not None
                    and isinstance(exc, ModelHTTPError)
                    and _rejects_structured_output(exc)
                ):
                    schema = None
                    continue
                failures.append(f"judge {model} failed: {describe_failure(exc, chat.timeout_s)}")
                break
            spent += usage
            parsed = parse_analysis(completion.text, models_by_label)
            if isinstance(parsed, str) and problem is None:
                problem = parsed
                labels = ", ".join(models_by_label)
                retry = render_prompt("judge_retry.md", problem=parsed, labels=labels)
                messages = (
                    *base,
                    ChatMessage(role="assistant", content=completion.text[:_ECHO_CHARS]),
                    ChatMessage(role="user", content=retry),
                )
                continue
            call = StageCall(
                model=model,
                served_by=completion.served_by,
                latency_s=caller.clock() - started,
                usage=spent,
                used_fallback=model != pool.judge,
                cut_at_tokens=chat.max_tokens if completion.truncated else None,
            )
            reasons = tuple(failures) + ((f"{model} judged instead",) if failures else ())
            if isinstance(parsed, str):
                note = (
                    f"The judge's analysis was invalid twice ({parsed}); answer fused without it."
                )
                return JudgeOutcome(None, note, call, spent, (*reasons, note))
            return JudgeOutcome(parsed, None, call, spent, reasons)
    note = "No analysis: " + "; ".join(failures) + ". Answer fused without it."
    return JudgeOutcome(None, note, None, spent, (*failures, "answer fused without an analysis"))
