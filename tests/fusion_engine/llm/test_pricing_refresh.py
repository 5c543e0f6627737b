"""Stale-while-revalidate: an expired price list answers at once and refreshes behind the caller.

The ``/models`` server here is real (aiohttp on 127.0.0.1, OpenRouter's wire format) and holds
each request until the test opens its gate, so "the caller did not wait for the refresh" is an
observable fact (the refresh request is provably pending when the lookup has already returned),
not a timing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from fusion_engine.llm.pricing import ModelsPriceSource

from .conftest import API_KEY


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class GatedModels:
    """``GET /models`` listing ``m/a`` at ``prompt_usd_per_token``, answered once ``gate`` is set.

    ``requested`` is set whenever a request arrives (before it waits on the gate)."""

    def __init__(self) -> None:
        self.prompt_usd_per_token = "0.000001"
        self.gate = asyncio.Event()
        self.gate.set()
        self.requested = asyncio.Event()
        self.calls = 0
        self.base_url = ""

    async def models(self, request: web.Request) -> web.Response:
        self.calls += 1
        self.requested.set()
        await self.gate.wait()
        pricing = {"prompt": self.prompt_usd_per_token, "completion": "0.000002"}
        return web.json_response({"data": [{"id": "m/a", "pricing": pricing}]})


@pytest.fixture
async def gated() -> AsyncIterator[GatedModels]:
    fake = GatedModels()
    app = web.Application()
    app.router.add_get("/v1/models", fake.models)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    fake.base_url = f"http://{host}:{port}/v1"
    try:
        yield fake
    finally:
        fake.gate.set()  # never leave a handler (or a waiting lookup) hanging on failure
        await runner.cleanup()


def _refresh_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == "fusion-price-refresh"]


async def test_expired_prices_answer_at_once_and_refresh_in_the_background(
    http: httpx.AsyncClient, gated: GatedModels
) -> None:
    clock = Clock()
    source = ModelsPriceSource(
        http, base_url=gated.base_url, api_key=API_KEY, ttl_s=60, clock=clock
    )
    before = await source.price("m/a")
    assert before is not None
    assert before.prompt_per_mtok == 1_000_000

    gated.prompt_usd_per_token = "0.000005"
    gated.gate.clear()
    gated.requested.clear()
    clock.now += 61
    lookup = asyncio.create_task(source.price("m/a"))
    await gated.requested.wait()  # the refresh has reached the server, which holds it
    assert lookup.done(), "the lookup waited for the refresh"
    assert lookup.result() == before
    assert await source.price("m/a") == before, "still the old list while refreshing"
    assert gated.calls == 2, "one refresh, however many lookups"
    assert source.fetches == 2

    gated.gate.set()
    await source.wait_idle()
    after = await source.price("m/a")
    assert after is not None
    assert after.prompt_per_mtok == 5_000_000
    assert gated.calls == 2
    assert _refresh_tasks() == []


async def test_the_first_fetch_is_awaited(http: httpx.AsyncClient, gated: GatedModels) -> None:
    source = ModelsPriceSource(http, base_url=gated.base_url, api_key=API_KEY)
    gated.gate.clear()
    lookup = asyncio.create_task(source.price("m/a"))
    await gated.requested.wait()
    assert not lookup.done(), "with nothing cached there is nothing to answer from"
    gated.gate.set()
    price = await lookup
    assert price is not None
    assert price.prompt_per_mtok == 1_000_000


async def test_a_failed_background_refresh_keeps_the_old_prices(http: httpx.AsyncClient) -> None:
    clock = Clock()
    calls = 0

    def models(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls > 1:
            return httpx.Response(503, text="overloaded")
        pricing = {"prompt": "0.000001", "completion": "0.000002"}
        return httpx.Response(200, json={"data": [{"id": "m/a", "pricing": pricing}]})

    async with httpx.AsyncClient(transport=httpx.MockTransport(models)) as flaky:
        source = ModelsPriceSource(
            flaky, base_url="http://models.test/v1", api_key=API_KEY, ttl_s=60, clock=clock
        )
        before = await source.price("m/a")
        clock.now += 61
        assert await source.price("m/a") == before
        await source.wait_idle()
        assert await source.price("m/a") == before
    assert calls == 2, "the failure backs off for retry_s instead of refetching on every lookup"


async def test_aclose_cancels_an_in_flight_refresh(
    http: httpx.AsyncClient, gated: GatedModels
) -> None:
    clock = Clock()
    source = ModelsPriceSource(
        http, base_url=gated.base_url, api_key=API_KEY, ttl_s=60, clock=clock
    )
    before = await source.price("m/a")
    gated.gate.clear()
    gated.requested.clear()
    clock.now += 61
    await source.price("m/a")
    await gated.requested.wait()
    assert len(_refresh_tasks()) == 1

    await source.aclose()  # returns although the server still holds the request
    assert _refresh_tasks() == []
    clock.now += 3600
    assert await source.price("m/a") == before, "a closed source answers from its cache"
    assert source.fetches == 2, "and starts no new fetch"
