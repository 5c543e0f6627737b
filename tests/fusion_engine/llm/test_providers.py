"""The generic client with each provider, against the fake server on loopback over real HTTP.

The fake always reports ``usage.cost`` (at its own $1 / $2 per million tokens), so a plain
provider's charge coming out at the table's prices shows the reported cost was not used.
"""

from __future__ import annotations

import httpx
import pytest

from fusion_engine.llm.base import ModelPrice, Usage
from fusion_engine.llm.openai_compat import OpenAICompatClient
from fusion_engine.llm.pricing import ModelsPriceSource, price_usage
from fusion_engine.llm.providers import OpenRouterProvider, PlainProvider
from tests.fakes.model_server import FakeModelServer, ModelBehavior, count_tokens

from .conftest import API_KEY, ask

ANSWER = "Four, in every base above four. " * 5
PROMPT_TOKENS = count_tokens("What is 2 + 2?")
TABLE = {"m/a": ModelPrice(prompt_per_mtok=3_000_000, completion_per_mtok=15_000_000)}


def _plain(http: httpx.AsyncClient, server: FakeModelServer) -> OpenAICompatClient:
    return OpenAICompatClient(
        http, base_url=server.base_url, api_key=API_KEY, provider=PlainProvider(TABLE)
    )


async def test_plain_provider_sends_no_attribution_and_reports_no_cost(
    http: httpx.AsyncClient, server: FakeModelServer
) -> None:
    server.set("m/a", ModelBehavior(text=ANSWER))
    completion = await _plain(http, server).complete(ask())
    (recorded,) = server.requests
    assert "X-Title" not in recorded.headers
    assert "HTTP-Referer" not in recorded.headers
    assert recorded.headers["Authorization"] == f"Bearer {API_KEY}"
    assert completion.usage == Usage(
        prompt_tokens=PROMPT_TOKENS, completion_tokens=count_tokens(ANSWER)
    )


@pytest.mark.parametrize("streams", [True, False])
async def test_plain_provider_calls_are_priced_from_the_table(
    http: httpx.AsyncClient, server: FakeModelServer, streams: bool
) -> None:
    server.set("m/a", ModelBehavior(text=ANSWER, streams=streams))
    provider = PlainProvider(TABLE)
    completion = await _plain(http, server).complete(ask())
    async with provider.prices(http, base_url=server.base_url, api_key=API_KEY) as prices:
        assert await prices.price("m/a") == TABLE["m/a"]
        charged = await price_usage(completion.usage, "m/a", prices)
    assert charged.cost_source == "priced"
    assert charged.cost_micros == PROMPT_TOKENS * 3 + count_tokens(ANSWER) * 15
    assert server.models_calls == 0


async def test_plain_provider_charges_a_model_missing_from_the_table_the_allowance(
    http: httpx.AsyncClient, server: FakeModelServer
) -> None:
    server.set("m/b", ModelBehavior(text=ANSWER))
    completion = await _plain(http, server).complete(ask("m/b"))
    async with PlainProvider(TABLE).prices(http, base_url="", api_key="") as prices:
        assert await prices.price("m/b") is None
        charged = await price_usage(completion.usage, "m/b", prices)
    assert charged.cost_source == "estimated"
    assert charged.cost_micros == PROMPT_TOKENS * 15 + count_tokens(ANSWER) * 75


async def test_openrouter_provider_sends_attribution_and_takes_the_reported_cost(
    http: httpx.AsyncClient, server: FakeModelServer
) -> None:
    server.set(
        "m/a",
        ModelBehavior(text=ANSWER, prompt_price_usd_per_mtok=5, completion_price_usd_per_mtok=7),
    )
    client = OpenAICompatClient(
        http, base_url=server.base_url, api_key=API_KEY, provider=OpenRouterProvider("Team bot")
    )
    usage = (await client.complete(ask())).usage
    (recorded,) = server.requests
    assert recorded.headers["X-Title"] == "Team bot"
    assert "HTTP-Referer" not in recorded.headers
    assert usage.cost_source == "reported"
    assert usage.cost_micros == PROMPT_TOKENS * 5 + count_tokens(ANSWER) * 7


async def test_openrouter_is_the_default_provider(
    http: httpx.AsyncClient, server: FakeModelServer
) -> None:
    client = OpenAICompatClient(http, base_url=server.base_url, api_key=API_KEY)
    usage = (await client.complete(ask())).usage
    assert server.requests[0].headers["X-Title"] == "Fusion"
    assert usage.cost_source == "reported"


async def test_openrouter_prices_come_from_models_and_close_with_the_block(
    http: httpx.AsyncClient, server: FakeModelServer
) -> None:
    """The background refresh must not outlive the block (nor the http client after it)."""
    server.set("m/a", ModelBehavior(prompt_price_usd_per_mtok=3, completion_price_usd_per_mtok=15))
    now = [0.0]
    async with OpenRouterProvider().prices(
        http, base_url=server.base_url, api_key=API_KEY
    ) as prices:
        assert isinstance(prices, ModelsPriceSource)
        assert await prices.price("m/a") == ModelPrice(
            prompt_per_mtok=3_000_000, completion_per_mtok=15_000_000, context_length=128_000
        )
        prices._clock = lambda: now[0]
        now[0] = 10**9  # the list is stale: the next lookup starts a background refresh
        await prices.price("m/a")
        assert prices.fetches == 2
    await prices.wait_idle()
    assert server.models_calls == 1  # the refresh was cancelled before it reached the server


async def test_no_key_sends_no_authorization() -> None:
    seen: list[httpx.Headers] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers)
        body = {"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}]}
        return httpx.Response(200, json=body)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    client = OpenAICompatClient(
        http, base_url="http://local.test/v1", api_key="", provider=PlainProvider()
    )
    assert (await client.complete(ask())).text == "hi"
    assert "authorization" not in seen[0]
