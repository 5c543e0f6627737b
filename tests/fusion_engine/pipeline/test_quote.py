"""Quotes: hand-computed figures, fallback prices, unpriced allowance, upper bound."""

from __future__ import annotations

import json
import math

from fusion_engine.llm.base import ModelPrice
from fusion_engine.llm.function import StaticPrices
from fusion_engine.money import cost_micros
from fusion_engine.pipeline.judge import JUDGE_SCHEMA
from fusion_engine.pipeline.prompts import load_prompt, render_prompt
from fusion_engine.pipeline.quote import (
    UNPRICED_COMPLETION_MICROS_PER_MTOK,
    UNPRICED_PROMPT_MICROS_PER_MTOK,
    quote_request,
)
from fusion_engine.pipeline.writer import NO_ANALYSIS
from fusion_engine.request import ConversationTurn
from fusion_engine.tokens import estimate_tokens

from .helpers import Models, make_engine, make_pool, make_request

QUESTION = "How do tides work?"


def usd(prompt: float, completion: float) -> ModelPrice:
    return ModelPrice(
        prompt_per_mtok=int(prompt * 1_000_000), completion_per_mtok=int(completion * 1_000_000)
    )


def tokens(text: str) -> int:
    # ASCII chars / 3 rounded up, one per UTF-8 byte of anything else, plus per-message overhead
    other = sum(len(c.encode()) for c in text if not c.isascii())
    return math.ceil(sum(c.isascii() for c in text) / 3) + other + 8


def small_pool(**kw: object):  # type: ignore[no-untyped-def]
    return make_pool(
        ("m/a", "m/b"),
        max_output_tokens=100,
        judge_max_tokens=300,
        writer_max_tokens=400,
        **kw,
    )


def test_estimate_tokens_rounds_up() -> None:
    assert [estimate_tokens(t) for t in ("", "a", "abc", "abcd")] == [0, 1, 1, 2]


def test_other_scripts_and_emoji_are_never_under_counted() -> None:
    # byte-level BPE never emits more tokens than UTF-8 bytes, so bytes bound non-ASCII text
    assert estimate_tokens("\N{GRINNING FACE}" * 1000) == 4000
    assert estimate_tokens("\u6f22\u5b57" * 500) == 3000
    assert estimate_tokens("caf\u00e9!") == 2 + 2  # "caf!" -> 2, "\u00e9" -> 2 bytes


async def test_quote_matches_the_hand_computed_figure() -> None:
    pool = small_pool(fallbacks={"m/b": ("m/b2",)})
    prices = StaticPrices(
        {
            "m/a": usd(1, 2),
            "m/b": usd(3, 4),
            "m/b2": usd(5, 1),  # dearer prompt, cheaper completion: the max of each is used
            "m/judge": usd(2, 8),
            "m/writer": usd(10, 30),
        }
    )
    quote = await quote_request(make_request(pool, QUESTION), prices)

    panel_prompt = tokens(load_prompt("panel_system.md")) + tokens(QUESTION)
    empty_answers = '<answer label="A">\n\n</answer>\n\n<answer label="B">\n\n</answer>'
    judge_user = render_prompt(
        "judge_user.md",
        context="",
        question=QUESTION,
        labels="Answer A, Answer B",
        answers=empty_answers,
    )
    schema = json.dumps(JUDGE_SCHEMA, separators=(",", ":"))  # sent as response_format
    judge_prompt = tokens(load_prompt("judge_system.md")) + tokens(judge_user) + 2 * 100
    judge_prompt += math.ceil(len(schema) / 3)
    writer_user = render_prompt(
        "writer_user.md", context="", question=QUESTION, answers=empty_answers, analysis=NO_ANALYSIS
    )
    writer_prompt = tokens(load_prompt("writer_system.md")) + tokens(writer_user) + 200 + 300

    expected = {
        "m/a": panel_prompt * 1 + 100 * 2,
        "m/b": panel_prompt * 5 + 100 * 4,
        "m/judge": judge_prompt * 2 + 300 * 8,
        "m/writer": writer_prompt * 10 + 400 * 30,
    }
    assert quote.per_model == expected
    assert quote.micros == sum(expected.values())
    assert quote.unpriced == ()


async def test_history_is_counted_in_the_panel_prompt() -> None:
    prices = StaticPrices({m: usd(1, 1) for m in ("m/a", "m/b", "m/judge", "m/writer")})
    plain = await quote_request(make_request(small_pool(), QUESTION), prices)
    turn = ConversationTurn(role="user", content="x" * 300)
    followup = await quote_request(make_request(small_pool(), QUESTION, history=(turn,)), prices)
    assert followup.per_model["m/a"] - plain.per_model["m/a"] == tokens("x" * 300)


async def test_unpriced_models_get_the_allowance_and_are_listed() -> None:
    pool = small_pool(fallbacks={"m/a": ("m/a-new",)}, judge_fallback="m/j2")
    prices = StaticPrices({"m/a": usd(1, 2), "m/judge": usd(1, 1), "m/writer": usd(1, 1)})
    quote = await quote_request(make_request(pool, QUESTION), prices)

    panel_prompt = tokens(load_prompt("panel_system.md")) + tokens(QUESTION)
    allowance = cost_micros(panel_prompt, UNPRICED_PROMPT_MICROS_PER_MTOK) + cost_micros(
        100, UNPRICED_COMPLETION_MICROS_PER_MTOK
    )
    assert quote.per_model["m/a"] == allowance  # its fallback has no price
    assert quote.per_model["m/b"] == allowance
    assert quote.unpriced == ("m/a-new", "m/b", "m/j2")
    assert quote.per_model["m/judge"] > 300 * 75  # priced at the unknown fallback's allowance


async def test_engine_quote_bounds_the_actual_cost() -> None:
    pool = make_pool()
    prices = StaticPrices({m: usd(3, 15) for m in (*pool.models, "m/judge", "m/writer")})
    models = Models(prices)
    engine = make_engine(models, prices)
    request = make_request(pool, QUESTION)

    quote = await engine.quote(request)
    result = await engine.fuse(request)

    assert 0 < result.cost_micros <= quote.micros
    assert set(quote.per_model) == {*pool.models, "m/judge", "m/writer"}


async def test_a_model_in_two_roles_adds_up() -> None:
    pool = make_pool(("m/a", "m/b"), judge="m/a", writer="m/a")
    prices = StaticPrices({"m/a": usd(1, 1), "m/b": usd(1, 1)})
    quote = await quote_request(make_request(pool, QUESTION), prices)
    assert set(quote.per_model) == {"m/a", "m/b"}
    assert quote.per_model["m/a"] > 3 * quote.per_model["m/b"]
    assert quote.micros == sum(quote.per_model.values())
