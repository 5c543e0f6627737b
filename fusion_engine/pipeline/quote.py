"""Quotes: a conservative upper bound on what a fusion can cost, before anything is called.

The budget reserves this figure, so every term is an over-estimate: prompts are counted at
3 characters a token plus per-message overhead (``tokens.py``); every answer is assumed to use
its whole ``max_tokens``; each stage is priced at the dearest of its model and its fallbacks;
and a model with no known price gets a fixed, deliberately high allowance and is listed in
``Quote.unpriced``. One call is counted per stage: a judge's corrective retry or a fallback after
a failure is rare, so rather than reserve for it up front, the fusion asks for more (the hold
grows, ``fusion_engine.allowance``) before making such a call, and does not make it if refused.
"""

from __future__ import annotations

from collections.abc import Iterable

from fusion_engine.llm.base import ModelPrice, PriceSource, Usage
from fusion_engine.llm.pricing import (
    UNPRICED_COMPLETION_MICROS_PER_MTOK,
    UNPRICED_PRICE,
    UNPRICED_PROMPT_MICROS_PER_MTOK,
    tokens_cost,
)
from fusion_engine.pipeline.judge import JUDGE_SCHEMA, LABELS, Labelled, judge_messages
from fusion_engine.pipeline.panel import panel_messages
from fusion_engine.pipeline.writer import writer_messages
from fusion_engine.request import FusionRequest
from fusion_engine.result import PanelAnswer, Quote
from fusion_engine.tokens import estimate_messages, estimate_schema, estimate_tokens

__all__ = [
    "UNPRICED_COMPLETION_MICROS_PER_MTOK",
    "UNPRICED_PROMPT_MICROS_PER_MTOK",
    "estimate_tokens",
    "quote_request",
]

_UNPRICED = UNPRICED_PRICE
"""The allowance (``llm/pricing.py``) for a model with no known price; settling charges the same."""


async def _dearest(
    models: Iterable[str | None], prices: PriceSource, unpriced: list[str]
) -> ModelPrice:
    """The highest prompt and completion prices over ``models``; the allowance for unknowns."""
    prompt = completion = 0
    for model in models:
        if not model:
            continue
        price = await prices.price(model)
        if price is None:
            if model not in unpriced:
                unpriced.append(model)
            price = _UNPRICED
        prompt = max(prompt, price.prompt_per_mtok)
        completion = max(completion, price.completion_per_mtok)
    return ModelPrice(prompt_per_mtok=prompt, completion_per_mtok=completion)


async def quote_request(request: FusionRequest, prices: PriceSource) -> Quote:
    """The most this fusion should cost, in integer micro-dollars, with a per-model breakdown."""
    pool = request.pool
    unpriced: list[str] = []
    per_model: dict[str, int] = {}

    def add(model: str, micros: int) -> None:
        per_model[model] = per_model.get(model, 0) + micros

    panel_prompt = estimate_messages(panel_messages(request))
    for model in pool.models:
        price = await _dearest((model, *pool.fallbacks.get(model, ())), prices, unpriced)
        add(model, tokens_cost(panel_prompt, pool.max_output_tokens, price))

    # The judge and writer prompts are the real templates filled with empty answers, plus every
    # answer at its maximum length.
    placeholders = tuple(
        Labelled(LABELS[i], PanelAnswer(model=m, served_by=m, text="", latency_s=0, usage=Usage()))
        for i, m in enumerate(pool.models)
    )
    answers_tokens = len(pool.models) * pool.max_output_tokens
    judge_prompt = estimate_messages(judge_messages(request, placeholders))
    judge_prompt += estimate_schema(JUDGE_SCHEMA)
    judge_price = await _dearest((pool.judge, pool.judge_fallback), prices, unpriced)
    add(pool.judge, tokens_cost(judge_prompt + answers_tokens, pool.judge_max_tokens, judge_price))

    writer_prompt = estimate_messages(writer_messages(request, placeholders, None))
    writer_prompt += answers_tokens + pool.judge_max_tokens
    writer_price = await _dearest((pool.writer, pool.writer_fallback), prices, unpriced)
    add(pool.writer, tokens_cost(writer_prompt, pool.writer_max_tokens, writer_price))

    return Quote(micros=sum(per_model.values()), per_model=per_model, unpriced=tuple(unpriced))
