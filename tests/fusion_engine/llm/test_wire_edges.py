"""Wire-format corner cases the fake server does not produce, through ``httpx.MockTransport``."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from fusion_engine.errors import (
    ModelConnectionError,
    ModelHTTPError,
    ModelOutputError,
    ModelTimeout,
)
from fusion_engine.llm.openai_compat import OpenAICompatClient

from .conftest import API_KEY, ask

SSE = {"content-type": "text/event-stream"}


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> OpenAICompatClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return OpenAICompatClient(http, base_url="http://models.test/v1/", api_key=API_KEY)


def _data(payload: object) -> str:
    return f"data: {json.dumps(payload)}\n\n"


def _chunk(content: str, finish: str | None = None, **extra: object) -> str:
    choice = {"index": 0, "delta": {"content": content}, "finish_reason": finish}
    return _data({"model": "m/a", "choices": [choice], **extra})


async def test_stream_closed_without_done_or_finish_is_incomplete() -> None:
    client = _client(lambda r: httpx.Response(200, headers=SSE, text=_chunk("half an ans")))
    with pytest.raises(ModelConnectionError, match="ended before"):
        await client.complete(ask())


async def test_finish_reason_without_done_is_complete_and_multiline_comments_skipped() -> None:
    body = ": OPENROUTER PROCESSING\n\n: OPENROUTER PROCESSING\n\n" + _chunk("Four.", "stop")
    client = _client(lambda r: httpx.Response(200, headers=SSE, text=body))
    completion = await client.complete(ask())
    assert completion.text == "Four."
    assert completion.usage.cost_source == "unknown"


async def test_string_error_code_in_stream_maps_to_502() -> None:
    err = {"error": {"code": "server_error", "message": "upstream fell over"}}
    body = _chunk("Fo") + _data({"model": "m/a", **err, "choices": []})
    client = _client(lambda r: httpx.Response(200, headers=SSE, text=body))
    with pytest.raises(ModelHTTPError) as caught:
        await client.complete(ask())
    assert caught.value.status == 502
    assert "upstream fell over" in caught.value.detail


async def test_finish_reason_error_without_error_object() -> None:
    client = _client(lambda r: httpx.Response(200, headers=SSE, text=_chunk("x", "error")))
    with pytest.raises(ModelHTTPError, match="ended in an error"):
        await client.complete(ask())


async def test_retry_after_as_http_date_and_non_json_error_body() -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    client = _client(
        lambda r: httpx.Response(503, headers={"Retry-After": when}, text="overloaded")
    )
    with pytest.raises(ModelHTTPError) as caught:
        await client.complete(ask())
    assert caught.value.retryable
    assert caught.value.retry_after is not None
    assert 20 <= caught.value.retry_after <= 31
    assert "overloaded" in caught.value.detail


async def test_openrouter_error_metadata_names_the_provider() -> None:
    err = {"error": {"code": 502, "message": "Upstream error", "metadata": {"provider_name": "X"}}}
    client = _client(lambda r: httpx.Response(502, json=err))
    with pytest.raises(ModelHTTPError, match=r"Upstream error \(provider X\)"):
        await client.complete(ask())


async def test_reasoning_content_field_and_length_hint() -> None:
    reasoning = _data(
        {"choices": [{"delta": {"content": "", "reasoning_content": "thinking aloud"}}]}
    )
    ok = _client(lambda r: httpx.Response(200, headers=SSE, text=reasoning + _chunk("", "stop")))
    assert (await ok.complete(ask())).text == "thinking aloud"
    empty = _client(lambda r: httpx.Response(200, headers=SSE, text=_chunk("", "length")))
    with pytest.raises(ModelOutputError, match="max_tokens"):
        await empty.complete(ask())


async def test_negative_reported_cost_is_treated_as_unknown() -> None:
    body = _chunk("Four.", "stop", usage={"prompt_tokens": 3, "completion_tokens": 2, "cost": -1})
    client = _client(lambda r: httpx.Response(200, headers=SSE, text=body + "data: [DONE]\n\n"))
    usage = (await client.complete(ask())).usage
    assert (usage.cost_source, usage.cost_micros, usage.prompt_tokens) == ("unknown", 0, 3)


def _raises(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


async def test_transport_timeouts_and_refusals_are_told_apart() -> None:
    with pytest.raises(ModelTimeout):
        await _client(_raises(httpx.ReadTimeout("slow"))).complete(ask())
    refused = httpx.ConnectTimeout("Cannot connect")
    refused.__cause__ = ConnectionRefusedError("refused")
    with pytest.raises(ModelConnectionError, match="ConnectionRefusedError"):
        await _client(_raises(refused)).complete(ask())
    timed_out = httpx.ConnectTimeout("Connection timeout")
    timed_out.__cause__ = TimeoutError()
    with pytest.raises(ModelTimeout):
        await _client(_raises(timed_out)).complete(ask())
