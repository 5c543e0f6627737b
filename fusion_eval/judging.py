"""One comparison: a judge sees the fused answer and one panel answer, anonymized, in both orders.

The answers are labelled only "Answer 1" and "Answer 2"; model names never reach the judge. The
two orders run concurrently. A judge is asked for JSON-schema output; an endpoint that rejects
that (HTTP 400) is asked once more without it, since ``parse_verdict`` reads plain replies too.
A judge call that fails (``ModelCallError``) makes that ordering's verdict invalid with the
failure as its reason; anything else is a bug and propagates.
"""

from __future__ import annotations

import asyncio
import time
from functools import cache
from importlib import resources
from string import Template
from typing import Literal

from fusion_engine.errors import ModelCallError, ModelHTTPError
from fusion_engine.llm.base import ChatMessage, ChatRequest, ModelClient, PriceSource
from fusion_engine.llm.pricing import price_usage
from fusion_eval.cost_cap import estimate_call_micros
from fusion_eval.records import Comparison, OrderVerdict, TestName, word_count
from fusion_eval.verdict import (
    VERDICT_SCHEMA,
    ParsedVerdict,
    combine_orders,
    fused_outcome,
    parse_verdict,
)

__all__ = ["EVAL_JUDGE_MARKER", "JUDGE_MAX_TOKENS", "PROMPT_VERSION", "PairJudge"]

EVAL_JUDGE_MARKER = "[fusion:eval-judge]"
"""First line of the pairwise judge's system prompt (as the engine's prompts carry theirs), so a
fake model server can tell an eval verdict request from a panel, judge or writer call."""

JUDGE_MAX_TOKENS = 400
PROMPT_VERSION = "pair-v1"
"""Part of the resume cache key: change it when the judge prompt changes meaningfully."""

_RAW_KEEP_CHARS = 2_000
_BAD_REQUEST = 400


@cache
def _prompt(name: str) -> str:
    return resources.files("fusion_eval").joinpath("prompts", name).read_text()


class PairJudge:
    """Asks judge models to compare the fused answer with one panel answer."""

    def __init__(
        self,
        client: ModelClient,
        prices: PriceSource,
        *,
        max_tokens: int = JUDGE_MAX_TOKENS,
        timeout_s: float = 90.0,
    ) -> None:
        self._client = client
        self._prices = prices
        self._max_tokens = max_tokens
        self._timeout_s = timeout_s

    def request(self, judge: str, question: str, answer_1: str, answer_2: str) -> ChatRequest:
        """The chat request for one ordering (public so tests can see exactly what is sent)."""
        user = Template(_prompt("judge_pair.md")).safe_substitute(
            question=question, answer_1=answer_1.strip(), answer_2=answer_2.strip()
        )
        return ChatRequest(
            model=judge,
            messages=(
                ChatMessage(role="system", content=_prompt("judge_system.md")),
                ChatMessage(role="user", content=user),
            ),
            max_tokens=self._max_tokens,
            temperature=0.0,
            json_schema=VERDICT_SCHEMA,
            timeout_s=self._timeout_s,
        )

    async def quote(self, judge: str, question: str, fused: str, other: str) -> tuple[int, bool]:
        """Upper estimate of both orderings, and whether the judge has a known price."""
        request = self.request(judge, question, fused, other)
        chars = sum(len(m.content) for m in request.messages)
        one, priced = await estimate_call_micros(
            self._prices, judge, prompt_chars=chars, max_tokens=self._max_tokens
        )
        return 2 * one, priced

    async def compare(
        self,
        *,
        question_id: str,
        test: TestName,
        judge: str,
        model: str,
        question: str,
        fused: str,
        other: str,
    ) -> Comparison:
        """Judge ``fused`` against ``other`` (``model``'s answer) in both orders."""
        async with asyncio.TaskGroup() as group:
            first = group.create_task(self._order(judge, question, fused, other, 1))
            second = group.create_task(self._order(judge, question, other, fused, 2))
        orders = (first.result(), second.result())
        outcome, flipped = combine_orders(orders[0].outcome, orders[1].outcome)
        return Comparison(
            question_id=question_id,
            test=test,
            judge=judge,
            model=model,
            orders=orders,
            outcome=outcome,
            flipped=flipped,
            fused_words=word_count(fused),
            other_words=word_count(other),
        )

    async def _order(
        self,
        judge: str,
        question: str,
        answer_1: str,
        answer_2: str,
        fused_position: Literal[1, 2],
    ) -> OrderVerdict:
        started = time.monotonic()
        request = self.request(judge, question, answer_1, answer_2)
        try:
            try:
                completion = await self._client.complete(request)
            except ModelHTTPError as exc:
                if exc.status != _BAD_REQUEST:
                    raise
                # Some endpoints reject structured output; the parser reads plain replies too.
                completion = await self._client.complete(
                    request.model_copy(update={"json_schema": None})
                )
        except ModelCallError as exc:
            verdict = ParsedVerdict(winner=None, problem=f"judge call failed ({exc.kind})")
            return OrderVerdict(
                fused_position=fused_position,
                verdict=verdict,
                outcome="invalid",
                latency_s=time.monotonic() - started,
            )
        verdict = parse_verdict(completion.text)
        usage = await price_usage(completion.usage, judge, self._prices)
        return OrderVerdict(
            fused_position=fused_position,
            verdict=verdict,
            outcome=fused_outcome(verdict, fused_position),
            raw=completion.text.strip()[:_RAW_KEEP_CHARS],
            cost_micros=usage.cost_micros,
            latency_s=time.monotonic() - started,
        )
