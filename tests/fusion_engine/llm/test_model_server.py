"""The fake model server itself speaks the OpenRouter wire format (checked with raw httpx)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from fusion_engine.pipeline.prompts import JUDGE_MARKER, WRITER_MARKER
from tests.fakes.model_server import FakeModelServer, ModelBehavior, count_tokens
from tests.fakes.realistic import RoleLengths, answer_for, realistic

AUTH = {"Authorization": "Bearer test-key"}


def _url(server: FakeModelServer) -> str:
    return f"{server.base_url}/chat/completions"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(headers=AUTH, timeout=10.0) as client:
        yield client


def _body(model: str, *, stream: bool, **extra: Any) -> dict[str, Any]:
    return {
        "model": model,
        "stream": stream,
        "messages": [{"role": "user", "content": "What is 2 + 2?"}],
        **extra,
    }


def _events(raw: str) -> tuple[list[str], list[str]]:
    """Split an SSE body into (comment lines, data payloads)."""
    comments = [line for line in raw.splitlines() if line.startswith(":")]
    data = [line[len("data: ") :] for line in raw.splitlines() if line.startswith("data: ")]
    return comments, data


async def test_stream_has_comments_deltas_usage_and_done(http: httpx.AsyncClient) -> None:
    text = "Four. " * 30
    async with FakeModelServer({"m/a": ModelBehavior(text=text, tokens_per_s=400)}) as server:
        resp = await http.post(
            f"{server.base_url}/chat/completions", json=_body("m/a", stream=True)
        )
    assert resp.headers["content-type"].startswith("text/event-stream")
    comments, data = _events(resp.text)
    assert comments == [": OPENROUTER PROCESSING"]
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert len(chunks) > 2, "a slow stream is sent in several chunks"
    streamed = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert streamed == text
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop"
    assert last["usage"]["completion_tokens"] == count_tokens(text)
    assert last["usage"]["cost"] > 0
    assert server.calls("m/a") == 1
    assert server.requests[0].stream is True


async def test_record_false_answers_without_keeping_requests(http: httpx.AsyncClient) -> None:
    async with FakeModelServer({"m/a": ModelBehavior(text="Hi.")}, record=False) as server:
        resp = await http.post(
            f"{server.base_url}/chat/completions", json=_body("m/a", stream=False)
        )
    assert resp.json()["choices"][0]["message"]["content"] == "Hi."
    assert server.requests == []


async def test_plain_json_completion_and_served_by(http: httpx.AsyncClient) -> None:
    behavior = ModelBehavior(text=lambda body: body["model"].upper(), served_by="m/a-2025")
    async with FakeModelServer({"m/a": behavior}) as server:
        resp = await http.post(
            f"{server.base_url}/chat/completions", json=_body("m/a", stream=False)
        )
    payload = resp.json()
    assert payload["model"] == "m/a-2025"
    assert payload["choices"][0]["message"]["content"] == "M/A"
    assert payload["usage"]["prompt_tokens"] == count_tokens("What is 2 + 2?")


async def test_models_lists_prices_as_usd_per_token_strings(http: httpx.AsyncClient) -> None:
    behaviors = {
        "m/a": ModelBehavior(prompt_price_usd_per_mtok=3, completion_price_usd_per_mtok=15),
        "m/b": ModelBehavior(prompt_price_usd_per_mtok=0.15),
    }
    async with FakeModelServer(behaviors) as server:
        resp = await http.get(f"{server.base_url}/models")
    prices = {m["id"]: m["pricing"] for m in resp.json()["data"]}
    assert prices["m/a"]["prompt"] == "0.000003"
    assert prices["m/a"]["completion"] == "0.000015"
    assert prices["m/b"]["prompt"] == "0.00000015"


async def test_wrong_key_and_unknown_model_get_openrouter_errors() -> None:
    async with (
        FakeModelServer({"m/a": ModelBehavior()}, default=None) as server,
        httpx.AsyncClient(headers={"Authorization": "Bearer nope"}) as bad,
        httpx.AsyncClient(headers=AUTH) as good,
    ):
        unauthorized = await bad.post(
            f"{server.base_url}/chat/completions", json=_body("m/a", stream=False)
        )
        unknown = await good.post(
            f"{server.base_url}/chat/completions", json=_body("m/zzz", stream=False)
        )
    assert unauthorized.status_code == 401
    assert unauthorized.json()["error"]["code"] == 401
    assert unknown.status_code == 400
    assert "m/zzz" in unknown.json()["error"]["message"]


async def test_fault_times_then_recovers_with_retry_after(http: httpx.AsyncClient) -> None:
    behavior = ModelBehavior(fault="429", fault_times=1, retry_after_s=2)
    async with FakeModelServer({"m/a": behavior}) as server:
        url = f"{server.base_url}/chat/completions"
        first = await http.post(url, json=_body("m/a", stream=False))
        second = await http.post(url, json=_body("m/a", stream=False))
    assert first.status_code == 429
    assert first.headers["retry-after"] == "2"
    assert second.status_code == 200


async def test_json_schema_rejected_when_unsupported(http: httpx.AsyncClient) -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "strict": True, "schema": {}}}
    async with FakeModelServer({"m/a": ModelBehavior(supports_json_schema=False)}) as server:
        url = f"{server.base_url}/chat/completions"
        rejected = await http.post(url, json=_body("m/a", stream=False, response_format=fmt))
        plain = await http.post(url, json=_body("m/a", stream=False))
    assert rejected.status_code == 400
    assert plain.status_code == 200


async def test_disconnect_drops_the_connection_mid_stream(http: httpx.AsyncClient) -> None:
    async with FakeModelServer({"m/a": ModelBehavior(fault="disconnect")}) as server:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.post(_url(server), json=_body("m/a", stream=True))


def test_faults_are_checked_early_and_statuses_normalized() -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        ModelBehavior(fault="explode")
    with pytest.raises(ValueError, match="unknown fault"):
        ModelBehavior(fault="200")
    assert ModelBehavior(fault="http_504").fault == "504"
    assert ModelBehavior(fault="429").fault == "429"


async def test_a_realistic_stream_sends_one_event_per_token_keepalives_and_usage_last() -> None:
    """What ``bench_fusion --realistic`` and ``bench_streams`` read: OpenRouter's keep-alives
    while the model thinks, then one 4-character event per token, the usage in the last."""
    lengths = RoleLengths(panel=60)
    behavior = realistic(lengths, tokens_per_s=2000, latency_s=0.35, keepalive_s=0.1)
    async with (
        FakeModelServer({"m/a": behavior}) as server,
        httpx.AsyncClient(headers=AUTH) as http,
        http.stream("POST", _url(server), json=_body("m/a", stream=True)) as resp,
    ):
        raw = (await resp.aread()).decode()
        (log,) = server.streams
    comments, data = _events(raw)
    assert len(comments) >= 3  # at 0, 0.1, 0.2 (and 0.3) s
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    pieces = [c["choices"][0]["delta"].get("content") for c in chunks[:-1]]
    assert len(pieces) == lengths.panel == log.pieces == log.sent
    assert all(len(p) == 4 for p in pieces)
    assert all("usage" not in c for c in chunks[:-1])
    assert chunks[-1]["usage"]["completion_tokens"] == lengths.panel


def test_realistic_answers_have_their_roles_lengths() -> None:
    lengths = RoleLengths(panel=800, judge=1000, writer=1200)
    judge = {"messages": [{"role": "system", "content": f'{JUDGE_MARKER}\n<answer label="A">'}]}
    writer = {"messages": [{"role": "system", "content": WRITER_MARKER}]}
    panel = {"model": "m/a", "messages": [{"role": "user", "content": "Why?"}]}
    assert count_tokens(answer_for(panel, lengths)) == 800
    assert count_tokens(answer_for(writer, lengths)) == 1200
    analysis = answer_for(judge, lengths)
    assert abs(count_tokens(analysis) - 1000) <= 2
    assert json.loads(analysis)["scores"][0]["answer"] == "A"
