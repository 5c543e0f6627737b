"""End to end over HTTP: the real client and price source against the loopback fake server."""

from __future__ import annotations

import resource
from typing import Any

import httpx
import pytest
from aiohttp import web
from httpx_aiohttp.transport import AiohttpTransport

from fusion_engine.events import WriterDelta
from fusion_engine.http import (
    DEFAULT_MAX_CONNECTIONS,
    FD_HEADROOM,
    connection_limit,
    new_http_client,
    raise_open_files_limit,
)
from fusion_engine.llm.openai_compat import OpenAICompatClient
from fusion_engine.llm.pricing import ModelsPriceSource
from fusion_engine.pipeline.engine import FusionEngine
from tests.fakes.judge import analysis_json_for, is_judge_request, is_writer_request
from tests.fakes.model_server import FakeModelServer, ModelBehavior, count_tokens

from .helpers import collect, make_pool, make_request

FUSED = "Tides come from the Moon's pull, with the Sun's help, shaped by the coastline. " * 3


def answer(body: dict[str, Any]) -> str:
    if is_judge_request(body):
        return analysis_json_for("\n".join(str(m.get("content") or "") for m in body["messages"]))
    if is_writer_request(body):
        return FUSED
    return f"{body['model']} explains the tides."


def billed_micros(body: dict[str, Any]) -> int:
    """What the fake bills for an answered request at its default $1 / $2 per million tokens
    (prompt / completion): one and two micro-dollars a token."""
    prompt = "".join(str(m.get("content") or "") for m in body["messages"])
    return max(1, count_tokens(prompt)) * 1 + count_tokens(answer(body)) * 2


async def test_fusion_over_http_with_faults_pricing_and_schema_rejection() -> None:
    behaviors = {
        "m/b": ModelBehavior(text=answer, report_cost=False),  # priced from /models
        "m/c": ModelBehavior(fault="503"),
        "m/judge": ModelBehavior(text=answer, supports_json_schema=False),
        "m/writer": ModelBehavior(text=answer, tokens_per_s=2000),
    }
    pool = make_pool(("m/a", "m/b", "m/c"), quorum=2)
    async with (
        FakeModelServer(behaviors, default=ModelBehavior(text=answer)) as server,
        new_http_client() as http,
    ):
        client = OpenAICompatClient(http, base_url=server.base_url, api_key="test-key")
        prices = ModelsPriceSource(http, base_url=server.base_url, api_key="test-key")
        engine = FusionEngine(client, prices)

        quote = await engine.quote(make_request(pool, "How do tides work?"))
        events = await collect(engine, make_request(pool, "How do tides work?"))

        judge_bodies = [r.body for r in server.requests if r.model == "m/judge"]
        bodies = {r.model: r.body for r in server.requests}

    result = events[-1].result  # type: ignore[union-attr]
    assert [a.model for a in result.answers] == ["m/a", "m/b"]
    (failure,) = result.failures
    assert failure.model == "m/c"
    assert failure.error_kind == "http_503"
    assert result.answers[1].usage.cost_source == "priced"
    assert result.answers[1].usage.cost_micros == billed_micros(bodies["m/b"])
    assert result.answers[0].usage.cost_source == "reported"

    assert len(judge_bodies) == 2
    assert judge_bodies[0]["response_format"]["type"] == "json_schema"
    assert "response_format" not in judge_bodies[1]
    assert result.analysis is not None
    assert {s.model for s in result.analysis.scores} == {"m/a", "m/b"}

    deltas = [e.text for e in events if isinstance(e, WriterDelta)]
    assert "".join(deltas) == FUSED == result.answer
    assert result.degraded
    assert result.degraded_reasons[0].startswith("m/c: HTTP 503")
    # Every answered call, once: the 503 and the rejected schema request are not billed.
    answered = [bodies["m/a"], bodies["m/b"], judge_bodies[1], bodies["m/writer"]]
    assert result.cost_micros == sum(billed_micros(b) for b in answered)
    assert result.cost_micros <= quote.micros


def _connector_limit(http: httpx.AsyncClient) -> int:
    transport = http._transport  # the pool size is only visible on the transport
    assert isinstance(transport, AiohttpTransport)
    return int(transport.limits.max_connections or 0)


def test_the_pool_is_clamped_to_the_open_files_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resource, "getrlimit", lambda _which: (1024, 4096))
    assert connection_limit() == 1024 - FD_HEADROOM
    assert connection_limit(100) == 100
    assert _connector_limit(new_http_client()) == 1024 - FD_HEADROOM

    monkeypatch.setattr(resource, "getrlimit", lambda _which: (resource.RLIM_INFINITY,) * 2)
    assert connection_limit() == DEFAULT_MAX_CONNECTIONS
    assert _connector_limit(new_http_client()) == DEFAULT_MAX_CONNECTIONS

    monkeypatch.setattr(resource, "getrlimit", lambda _which: (100, 100))
    assert connection_limit() == 16  # never zero or negative


def test_raising_the_open_files_limit_stops_at_the_hard_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    limits = {"now": (1024, 2048)}
    monkeypatch.setattr(resource, "getrlimit", lambda _which: limits["now"])
    monkeypatch.setattr(resource, "setrlimit", lambda _which, new: limits.update(now=new))
    assert raise_open_files_limit() == 2048
    assert limits["now"] == (2048, 2048)

    limits["now"] = (65536, 65536)
    assert raise_open_files_limit() == 65536  # never lowered

    def forbidden(_which: int, _new: tuple[int, int]) -> None:
        raise ValueError("not permitted")

    limits["now"] = (1024, 8192)
    monkeypatch.setattr(resource, "setrlimit", forbidden)
    assert raise_open_files_limit() == 1024  # kept, not crashed


async def test_the_shared_client_neither_keeps_nor_sends_cookies() -> None:
    """A ``Set-Cookie`` from one call (e.g. a CDN's bot-management cookie) is not replayed on
    the next: every tenant's calls share this client, and bearer keys need no cookies."""
    seen: list[str | None] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Cookie"))
        response = web.json_response({"ok": True})
        response.set_cookie("__cf_bm", "tenant-a-session", path="/")
        return response

    app = web.Application()
    app.router.add_get("/v1/ping", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        async with new_http_client() as http:
            for _ in range(2):
                response = await http.get(f"http://{host}:{port}/v1/ping")
                assert response.headers["set-cookie"].startswith("__cf_bm=")
            assert len(http.cookies) == 0
    finally:
        await runner.cleanup()
    assert seen == [None, None]
