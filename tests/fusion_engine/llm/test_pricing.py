"""Prices from ``/models``: parsing, caching, single flight, stale-on-failure, and pricing usage."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from fusion_engine.llm.base import ModelPrice, Usage
from fusion_engine.llm.function import StaticPrices
from fusion_engine.llm.openai_compat import OpenAICompatClient
from fusion_engine.llm.pricing import (
    UNPRICED_COMPLETION_MICROS_PER_MTOK,
    UNPRICED_PRICE,
    UNPRICED_PROMPT_MICROS_PER_MTOK,
    ModelsPriceSource,
    parse_price_per_token,
    price_usage,
)
from fusion_engine.money import cost_micros
from fusion_engine.pipeline import quote
from tests.fakes.model_server import FakeModelServer, ModelBehavior, count_tokens

from .conftest import API_KEY, ask


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("raw", "micros_per_mtok"),
    [
        ("0.000003", 3_000_000),
        ("0.00000015", 150_000),
        ("0", 0),
        ("1e-6", 1_000_000),
        ("0.0000000000001", 1),  # rounds up, never down
        ("-1", None),
        ("-0.000001", None),
        ("NaN", None),
        ("free", None),
        (None, None),
    ],
)
def test_parse_price_per_token(raw: str | None, micros_per_mtok: int | None) -> None:
    assert parse_price_per_token(raw) == micros_per_mtok


async def test_prices_known_unknown_and_variable(http: httpx.AsyncClient) -> None:
    behaviors = {
        "m/a": ModelBehavior(prompt_price_usd_per_mtok=3, completion_price_usd_per_mtok=15),
        "m/router": ModelBehavior(prompt_price_usd_per_mtok=-1),
    }
    async with FakeModelServer(behaviors, api_key=API_KEY) as server:
        source = ModelsPriceSource(http, base_url=server.base_url, api_key=API_KEY)
        assert await source.price("m/a") == ModelPrice(
            prompt_per_mtok=3_000_000, completion_per_mtok=15_000_000, context_length=128_000
        )
        assert await source.price("m/router") is None
        assert await source.price("m/unknown") is None
    assert server.models_calls == 1


async def test_cache_expires_after_ttl(http: httpx.AsyncClient) -> None:
    clock = Clock()
    async with FakeModelServer({"m/a": ModelBehavior()}, api_key=API_KEY) as server:
        source = ModelsPriceSource(
            http, base_url=server.base_url, api_key=API_KEY, ttl_s=60, clock=clock
        )
        await source.price("m/a")
        clock.now += 59
        await source.price("m/a")
        assert server.models_calls == 1
        server.set("m/a", ModelBehavior(prompt_price_usd_per_mtok=5))
        clock.now += 2
        await source.price("m/a")  # expired: answered from the old list, refreshed behind it
        await source.wait_idle()
        price = await source.price("m/a")
    assert server.models_calls == 2
    assert price is not None
    assert price.prompt_per_mtok == 5_000_000


async def test_concurrent_callers_share_one_fetch(http: httpx.AsyncClient) -> None:
    async with FakeModelServer({"m/a": ModelBehavior()}, api_key=API_KEY) as server:
        source = ModelsPriceSource(http, base_url=server.base_url, api_key=API_KEY)
        prices = await asyncio.gather(*(source.price("m/a") for _ in range(25)))
    assert server.models_calls == 1
    assert source.fetches == 1
    assert all(p == prices[0] and p is not None for p in prices)


async def test_a_cancelled_caller_does_not_cancel_the_shared_fetch(
    http: httpx.AsyncClient,
) -> None:
    async with FakeModelServer({"m/a": ModelBehavior()}, api_key=API_KEY) as server:
        source = ModelsPriceSource(http, base_url=server.base_url, api_key=API_KEY)
        first = asyncio.create_task(source.price("m/a"))
        second = asyncio.create_task(source.price("m/a"))
        await asyncio.sleep(0)  # both are now waiting on the one fetch
        first.cancel()
        price = await second
    assert first.cancelled()
    assert price is not None
    assert source.fetches == 1


async def test_failed_refresh_keeps_stale_prices(http: httpx.AsyncClient) -> None:
    clock = Clock()
    async with FakeModelServer({"m/a": ModelBehavior()}, api_key=API_KEY) as server:
        source = ModelsPriceSource(
            http, base_url=server.base_url, api_key=API_KEY, ttl_s=60, retry_s=10, clock=clock
        )
        before = await source.price("m/a")
    clock.now += 61  # expired, and the server is gone
    assert await source.price("m/a") == before
    await source.wait_idle()
    assert await source.price("m/unknown") is None
    assert source.fetches == 2, "the failed refresh is not retried before retry_s"
    clock.now += 11
    assert await source.price("m/a") == before
    assert source.fetches == 3
    await source.aclose()


async def test_no_price_list_at_all_means_unknown_not_an_error(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeModelServer({"m/a": ModelBehavior()}, api_key="another-key") as server:
        source = ModelsPriceSource(http, base_url=server.base_url, api_key=API_KEY)
        assert await source.price("m/a") is None
        assert await source.price("m/a") is None
    assert server.models_calls == 1, "the failure is not retried before retry_s"
    assert "no prices" in caplog.text
    assert API_KEY not in caplog.text


async def test_price_usage_fills_only_a_missing_cost() -> None:
    prices = StaticPrices({"m/a": ModelPrice(prompt_per_mtok=3_000_000, completion_per_mtok=1)})
    unknown = Usage(prompt_tokens=1000, completion_tokens=3)
    priced = await price_usage(unknown, "m/a", prices)
    assert priced.cost_source == "priced"
    assert priced.cost_micros == 3000 + 1
    reported = Usage(prompt_tokens=1000, cost_micros=7, cost_source="reported")
    assert await price_usage(reported, "m/a", prices) == reported


async def test_an_unpriced_model_is_charged_the_quote_allowance_not_zero() -> None:
    """No reported cost and no list price: the tokens are charged at the same conservative
    allowance the quote reserved, so budgets still bind for unpriced models."""
    unknown = Usage(prompt_tokens=1000, completion_tokens=200)
    charged = await price_usage(unknown, "m/nope", StaticPrices({}))
    assert charged.cost_source == "estimated"
    assert charged.cost_micros == cost_micros(1000, UNPRICED_PROMPT_MICROS_PER_MTOK) + cost_micros(
        200, UNPRICED_COMPLETION_MICROS_PER_MTOK
    )
    assert charged.cost_micros > 0
    assert (charged.prompt_tokens, charged.completion_tokens) == (1000, 200)
    assert await price_usage(charged, "m/nope", StaticPrices({})) == charged  # not re-priced
    # One allowance for quoting and settling (quote.py's names stay importable).
    assert UNPRICED_PRICE.prompt_per_mtok == quote.UNPRICED_PROMPT_MICROS_PER_MTOK
    assert UNPRICED_PRICE.completion_per_mtok == quote.UNPRICED_COMPLETION_MICROS_PER_MTOK


async def test_missing_cost_is_priced_from_models_end_to_end(
    http: httpx.AsyncClient, server: FakeModelServer, client: OpenAICompatClient
) -> None:
    server.set(
        "m/a",
        ModelBehavior(
            text="An answer of some length. " * 10,
            report_cost=False,
            prompt_price_usd_per_mtok=3,
            completion_price_usd_per_mtok=15,
        ),
    )
    completion = await client.complete(ask(max_tokens=1000))
    assert completion.usage.cost_source == "unknown"
    source = ModelsPriceSource(http, base_url=server.base_url, api_key=API_KEY)
    usage = await price_usage(completion.usage, completion.model, source)
    assert usage.cost_source == "priced"
    prompt, answer = count_tokens("What is 2 + 2?"), count_tokens("An answer of some length. " * 10)
    assert (usage.prompt_tokens, usage.completion_tokens) == (prompt, answer)
    assert usage.cost_micros == prompt * 3 + answer * 15  # $3 and $15 per million tokens
