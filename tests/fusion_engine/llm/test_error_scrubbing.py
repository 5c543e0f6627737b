"""Failure reasons reach users: no key of any kind, ours or a provider's quote, survives in them."""

from __future__ import annotations

import json

import httpx
import pytest

from fusion_engine.errors import ModelConnectionError, ModelHTTPError
from fusion_engine.llm.openai_compat import AUTH_FAILED, OpenAICompatClient
from tests.fakes.model_server import FakeModelServer, ModelBehavior

from .conftest import API_KEY, ask

OPENAI_401 = (
    "Incorrect API key provided: sk-proj-********************abcd. You can find your API key "
    "at https://platform.openai.com/account/api-keys."
)


def _client(status: int, message: str, *, sse: bool = False) -> OpenAICompatClient:
    error = {"error": {"code": status, "message": message, "metadata": {}}}

    def handler(request: httpx.Request) -> httpx.Response:
        if sse:
            body = f"data: {json.dumps({'model': 'm/a', 'choices': [], **error})}\n\n"
            return httpx.Response(200, headers={"content-type": "text/event-stream"}, text=body)
        return httpx.Response(status, json=error)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return OpenAICompatClient(http, base_url="http://models.test/v1", api_key=API_KEY)


@pytest.mark.parametrize("status", [401, 403])
@pytest.mark.parametrize("sse", [False, True])
async def test_auth_failures_say_only_that_not_what_the_provider_said(
    status: int, sse: bool
) -> None:
    """The core names no setting: the status is the typed part, and the process (``bots/``)
    adds which variable holds the key when it presents the error."""
    with pytest.raises(ModelHTTPError) as caught:
        await _client(status, OPENAI_401, sse=sse).complete(ask())
    assert caught.value.status == status
    assert caught.value.detail == f"HTTP {status}: authentication failed"
    assert AUTH_FAILED == "authentication failed"
    assert "abcd" not in str(caught.value)


@pytest.mark.parametrize(
    ("quoted", "kept"),
    [
        ("Incorrect API key provided: sk-…abcd.", "Incorrect API key provided: sk-***"),
        ("upstream key sk-or-v1-0123456789abcdef rejected", "upstream key sk-*** rejected"),
        ("proxy sent Authorization: Bearer eyJhbGciOi.x.y", "proxy sent Authorization: Bearer ***"),
        ("sk-ant-api03-AbCdEf_123 is over quota", "sk-*** is over quota"),
    ],
)
async def test_other_keys_in_provider_text_are_redacted(quoted: str, kept: str) -> None:
    with pytest.raises(ModelHTTPError) as caught:
        await _client(500, quoted).complete(ask())
    assert caught.value.detail == f"HTTP 500: {kept}"


async def test_ordinary_words_are_not_mistaken_for_keys() -> None:
    text = "task-runner and disk-usage limits exceeded; sk-short"
    with pytest.raises(ModelHTTPError) as caught:
        await _client(500, text).complete(ask())
    assert caught.value.detail == f"HTTP 500: {text}"


async def test_wrong_key_against_a_real_server_is_a_fixed_message(
    http: httpx.AsyncClient, server: FakeModelServer
) -> None:
    client = OpenAICompatClient(http, base_url=server.base_url, api_key="sk-or-v1-wrong-000000")
    with pytest.raises(ModelHTTPError) as caught:
        await client.complete(ask())
    assert caught.value.status == 401
    assert caught.value.detail == f"HTTP 401: {AUTH_FAILED}"


async def test_a_foreign_key_echoed_by_a_real_server_is_redacted(http: httpx.AsyncClient) -> None:
    """The fake repeats an unknown slug in its 400 message: an echo channel for any text."""
    foreign = "sk-proj-AAAAbbbbCCCCdddd"
    async with FakeModelServer({"m/a": ModelBehavior()}, default=None, api_key=API_KEY) as strict:
        client = OpenAICompatClient(http, base_url=strict.base_url, api_key=API_KEY)
        with pytest.raises(ModelHTTPError) as caught:
            await client.complete(ask(model=f"leak/{foreign}"))
    assert caught.value.status == 400
    assert foreign not in caught.value.detail
    assert "leak/sk-***" in caught.value.detail


async def test_connection_errors_are_redacted_too() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("proxy rejected Bearer sk-or-v1-abcdefabcdef")

    http = httpx.AsyncClient(transport=httpx.MockTransport(refuse))
    client = OpenAICompatClient(http, base_url="http://models.test/v1", api_key=API_KEY)
    with pytest.raises(ModelConnectionError) as caught:
        await client.complete(ask())
    assert "abcdefabcdef" not in caught.value.detail
    assert "Bearer ***" in caught.value.detail
