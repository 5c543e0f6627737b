"""What an eval records per question: the fusion, and every comparison's two verdicts.

These frozen models are the cache format (one JSON file per question) and the input of the
statistics, so a resumed eval and a fresh one are reported by exactly the same code.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from fusion_engine.result import FusionResult
from fusion_eval.verdict import Outcome, ParsedVerdict

__all__ = ["Comparison", "OrderVerdict", "QuestionRecord", "TestName", "word_count"]

TestName = Literal["self_preference", "pairwise"]
"""``self_preference``: a panel model judges its own answer against the fused one.
``pairwise``: an independent judge compares the fused answer with one panel answer."""

_FROZEN = ConfigDict(frozen=True)


def word_count(text: str) -> int:
    """Length of an answer in whitespace-separated words (at least 1, so ratios are finite)."""
    return max(1, len(text.split()))


class OrderVerdict(BaseModel):
    """One ordering of one comparison: where the fused answer sat and what the judge said."""

    model_config = _FROZEN

    fused_position: Literal[1, 2]
    verdict: ParsedVerdict
    outcome: Outcome
    """From the fused answer's side."""
    raw: str = ""
    """The judge's reply (trimmed), kept so an invalid verdict can be inspected."""
    cost_micros: int = 0
    latency_s: float = 0.0


class Comparison(BaseModel):
    """The fused answer against one panel answer, judged by one judge in both orders."""

    model_config = _FROZEN

    question_id: str
    test: TestName
    judge: str
    model: str
    """The panel model whose answer the fused one was compared with."""
    orders: tuple[OrderVerdict, OrderVerdict]
    outcome: Outcome
    flipped: bool
    """The two orders named opposite winners (counted as a tie)."""
    fused_words: int = Field(ge=1)
    other_words: int = Field(ge=1)

    @property
    def length_ratio(self) -> float:
        return self.fused_words / self.other_words

    @property
    def cost_micros(self) -> int:
        return sum(o.cost_micros for o in self.orders)


class QuestionRecord(BaseModel):
    """Everything one question produced; written to the cache once it is complete."""

    model_config = _FROZEN

    question_id: str
    question: str
    cache_key: str
    fusion: FusionResult
    comparisons: tuple[Comparison, ...]
    elapsed_s: float

    @property
    def judge_cost_micros(self) -> int:
        return sum(c.cost_micros for c in self.comparisons)

    @property
    def cost_micros(self) -> int:
        return self.fusion.cost_micros + self.judge_cost_micros
