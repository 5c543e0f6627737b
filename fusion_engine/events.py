"""Progress events a fusion publishes as it runs. The CLI, Slack and Discord render these.

Order, for one fusion: ``FusionStarted``; for each panel member ``MemberStarted`` then either
``MemberFinished`` or ``MemberFailed`` (members interleave); ``PanelDone``; ``JudgeStarted``;
``AnalysisReady``; ``WriterStarted``; any number of ``WriterDelta``; then ``Done`` last.
A fusion that fails raises a ``FusionError`` from the stream instead of yielding ``Done``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from fusion_engine.llm.base import Usage
from fusion_engine.result import Analysis, FusionResult, PanelAnswer, PanelFailure

__all__ = [
    "AnalysisReady",
    "Done",
    "FusionEvent",
    "FusionStarted",
    "JudgeStarted",
    "MemberFailed",
    "MemberFinished",
    "MemberStarted",
    "PanelDone",
    "WriterDelta",
    "WriterStarted",
]

_FROZEN = ConfigDict(frozen=True)


class FusionStarted(BaseModel):
    model_config = _FROZEN
    type: Literal["fusion_started"] = "fusion_started"
    request_id: str
    models: tuple[str, ...]
    judge: str
    writer: str


class MemberStarted(BaseModel):
    model_config = _FROZEN
    type: Literal["member_started"] = "member_started"
    model: str


class MemberFinished(BaseModel):
    model_config = _FROZEN
    type: Literal["member_finished"] = "member_finished"
    answer: PanelAnswer


class MemberFailed(BaseModel):
    model_config = _FROZEN
    type: Literal["member_failed"] = "member_failed"
    failure: PanelFailure


class PanelDone(BaseModel):
    model_config = _FROZEN
    type: Literal["panel_done"] = "panel_done"
    answered: int
    failed: int


class JudgeStarted(BaseModel):
    model_config = _FROZEN
    type: Literal["judge_started"] = "judge_started"
    model: str


class AnalysisReady(BaseModel):
    model_config = _FROZEN
    type: Literal["analysis_ready"] = "analysis_ready"
    analysis: Analysis | None
    note: str | None = None
    usage: Usage = Usage()
    """What the judge stage cost (retries and a fallback judge included)."""


class WriterStarted(BaseModel):
    model_config = _FROZEN
    type: Literal["writer_started"] = "writer_started"
    model: str


class WriterDelta(BaseModel):
    model_config = _FROZEN
    type: Literal["writer_delta"] = "writer_delta"
    text: str


class Done(BaseModel):
    model_config = _FROZEN
    type: Literal["done"] = "done"
    result: FusionResult


FusionEvent = Annotated[
    FusionStarted
    | MemberStarted
    | MemberFinished
    | MemberFailed
    | PanelDone
    | JudgeStarted
    | AnalysisReady
    | WriterStarted
    | WriterDelta
    | Done,
    Field(discriminator="type"),
]
