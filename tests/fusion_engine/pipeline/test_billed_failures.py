"""A call that fails after it was billed is still charged.

The model client raises an empty answer as ``ModelOutputError`` carrying the usage the endpoint
reported; the panel, the judge and the writer add it (priced when the endpoint gave no cost) to
what the fusion spent, so the budget settles what the provider charged.
"""

from __future__ import annotations

import pytest

from fusion_engine.allowance import Allowance
from fusion_engine.errors import StageError
from fusion_engine.events import AnalysisReady
from fusion_engine.llm.base import ChatRequest, Completion, Usage
from fusion_engine.llm.function import StaticPrices
from fusion_engine.result import PanelAnswer, PanelFailure
from tests.fakes.judge import is_judge_request

from .helpers import (
    FUSED,
    JUDGE,
    MODELS,
    PRICE,
    WRITER,
    Handler,
    Models,
    collect,
    judge_reply,
    make_engine,
    make_pool,
    make_request,
)

PRICES = StaticPrices({m: PRICE for m in (*MODELS, JUDGE, WRITER, "m/judge2", "m/writer2")})
BILLED = Usage(prompt_tokens=900, completion_tokens=3, cost_micros=1234, cost_source="reported")
UNCOSTED = Usage(prompt_tokens=1000, completion_tokens=10)
UNCOSTED_PRICED = 1000 * 1 + 10 * 2  # PRICE is $1 / $2 per million tokens
"""What ``UNCOSTED`` costs at ``PRICE``, in micro-dollars."""


def answer(text: str, cost_micros: int) -> Handler:
    def reply(request: ChatRequest) -> Completion:
        usage = Usage(prompt_tokens=1, cost_micros=cost_micros, cost_source="reported")
        body = judge_reply(request) if is_judge_request(request) else text
        return Completion(model=request.model, served_by=request.model, text=body, usage=usage)

    return reply


def empty(usage: Usage) -> Handler:
    def reply(request: ChatRequest) -> Completion:
        return Completion(model=request.model, served_by=request.model, text="", usage=usage)

    return reply


def all_costing(models: Models, micros: int) -> None:
    for slug in (*MODELS, JUDGE, WRITER):
        models.handlers.setdefault(slug, answer(FUSED if slug == WRITER else "42", micros))


async def test_an_empty_panel_answer_is_charged_at_its_priced_usage() -> None:
    models = Models()
    models.handlers["m/a"] = empty(UNCOSTED)
    all_costing(models, 100)

    result = await make_engine(models, PRICES).fuse(make_request())

    failure = result.panel[0]
    assert isinstance(failure, PanelFailure)
    assert failure.reason == "empty answer"
    assert failure.usage == Usage(
        prompt_tokens=1000, completion_tokens=10, cost_micros=UNCOSTED_PRICED, cost_source="priced"
    )
    # four panel answers, the judge and the writer at 100 each, and the empty answer
    assert result.usage.cost_micros == 6 * 100 + UNCOSTED_PRICED


async def test_an_empty_answer_before_a_fallback_is_charged_to_the_member() -> None:
    models = Models()
    models.handlers["m/a"] = empty(BILLED)
    models.handlers["m/a-old"] = answer("42 from the fallback", 500)
    all_costing(models, 100)

    result = await make_engine(models, PRICES).fuse(
        make_request(make_pool(fallbacks={"m/a": ("m/a-old",)}))
    )

    member = result.panel[0]
    assert isinstance(member, PanelAnswer)
    assert member.served_by == "m/a-old"
    assert member.usage.cost_micros == 1234 + 500
    assert result.usage.cost_micros == 6 * 100 + 1234 + 500


async def test_an_empty_judge_answer_is_charged() -> None:
    models = Models()
    models.handlers[JUDGE] = empty(BILLED)
    models.handlers["m/judge2"] = answer("", 700)
    all_costing(models, 100)

    events = await collect(
        make_engine(models, PRICES), make_request(make_pool(judge_fallback="m/judge2"))
    )

    (ready,) = [e for e in events if isinstance(e, AnalysisReady)]
    assert ready.analysis is not None
    assert ready.usage.cost_micros == 1234 + 700
    result = events[-1].result  # type: ignore[union-attr]
    assert result.usage.cost_micros == 6 * 100 + 1234 + 700


async def test_an_empty_writer_answer_is_charged() -> None:
    models = Models()
    models.handlers[WRITER] = empty(BILLED)
    models.handlers["m/writer2"] = answer("the fallback's answer", 600)
    all_costing(models, 100)

    result = await make_engine(models, PRICES).fuse(
        make_request(make_pool(writer_fallback="m/writer2"))
    )

    assert result.answer == "the fallback's answer"
    assert result.usage.cost_micros == 6 * 100 + 1234 + 600


async def test_a_fusion_whose_writers_all_answer_empty_reports_their_spend() -> None:
    models = Models()
    models.handlers[WRITER] = empty(BILLED)
    models.handlers["m/writer2"] = empty(UNCOSTED)
    all_costing(models, 100)

    with pytest.raises(StageError) as caught:
        await make_engine(models, PRICES).fuse(make_request(make_pool(writer_fallback="m/writer2")))

    assert caught.value.spent_micros == 1234 + UNCOSTED_PRICED


async def test_the_spend_guard_records_a_billed_failure_as_the_fusion_does() -> None:
    """The per-fusion allowance and the result agree on what was spent: an empty answer's bill
    is released into the guard, not dropped, so later calls see the budget it used."""
    models = Models()
    models.handlers["m/a"] = empty(UNCOSTED)
    all_costing(models, 100)

    async def top_up(total: int) -> None:
        return None

    guard = Allowance(10_000_000, top_up)
    result = await make_engine(models, PRICES).fuse(make_request(), guard=guard)

    assert result.usage.cost_micros == 6 * 100 + UNCOSTED_PRICED
    assert guard.spent_micros == 6 * 100 + UNCOSTED_PRICED
    assert guard.committed == guard.spent_micros
