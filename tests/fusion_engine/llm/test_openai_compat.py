"""``OpenAICompatClient`` against the fake OpenRouter server on loopback, over real HTTP."""

from __future__ import annotations

import socket

import httpx
import pytest

from fusion_engine.errors import (
    ModelCallError,
    ModelConnectionError,
    ModelHTTPError,
    ModelOutputError,
    ModelTimeout,
)
from fusion_engine.llm.openai_compat import OpenAICompatClient
from tests.fakes.model_server import FakeModelServer, ModelBehavior, count_tokens

from .conftest import API_KEY, ask

ANSWER = "Four. Two plus two is four, in every base above four. " * 6


class Sink:
    """Collects ``on_text`` deltas."""

    def __init__(self) -> None:
        self.deltas: list[str] = []

    async def __call__(self, delta: str) -> None:
        self.deltas.append(delta)

    @property
    def text(self) -> str:
        return "".join(self.deltas)


async def test_streams_deltas_that_concatenate_to_the_answer(
    server: FakeModelServer, client: OpenAICompatClient
) -> None:
    server.set("m/a", ModelBehavior(text=ANSWER, tokens_per_s=800, served_by="m/a-0613"))
    sink = Sink()
    completion = await client.complete(ask(), sink)
    assert completion.text == ANSWER
    assert len(sink.deltas) > 1
    assert sink.text == ANSWER
    assert completion.model == "m/a"
    assert completion.served_by == "m/a-0613"
    assert completion.finish_reason == "stop"
    assert completion.usage.completion_tokens == count_tokens(ANSWER)
    assert completion.usage.cost_source == "reported"
    assert completion.latency_s > 0


async def test_request_is_streamed_with_usage_and_attribution(
    server: FakeModelServer, client: OpenAICompatClient
) -> None:
    await client.complete(ask(temperature=0.2))
    (recorded,) = server.requests
    assert recorded.stream is True
    assert recorded.body["stream_options"] == {"include_usage": True}
    assert recorded.body["max_tokens"] == 512
    assert recorded.body["temperature"] == 0.2
    assert recorded.body["messages"] == [{"role": "user", "content": "What is 2 + 2?"}]
    assert "response_format" not in recorded.body
    assert recorded.headers["Authorization"] == f"Bearer {API_KEY}"
    assert recorded.headers["X-Title"] == "Fusion"
    assert recorded.headers["HTTP-Referer"] == "https://fusion.example"


async def test_reported_cost_becomes_micros(
    server: FakeModelServer, client: OpenAICompatClient
) -> None:
    server.set(
        "m/a",
        ModelBehavior(text=ANSWER, prompt_price_usd_per_mtok=3, completion_price_usd_per_mtok=15),
    )
    usage = (await client.complete(ask(max_tokens=1000))).usage
    prompt, completion = count_tokens("What is 2 + 2?"), count_tokens(ANSWER)
    assert (usage.prompt_tokens, usage.completion_tokens) == (prompt, completion)
    assert usage.cost_micros == prompt * 3 + completion * 15  # $3 and $15 per million tokens
    assert usage.cost_source == "reported"


async def test_missing_cost_is_zero_and_unknown(
    server: FakeModelServer, client: OpenAICompatClient
) -> None:
    server.set("m/a", ModelBehavior(report_cost=False))
    usage = (await client.complete(ask())).usage
    assert usage.cost_micros == 0
    assert usage.cost_source == "unknown"
    assert (usage.prompt_tokens, usage.completion_tokens) == (
        count_tokens("What is 2 + 2?"),
        count_tokens("A fine answer."),
    )


async def test_plain_json_body_when_the_endpoint_ignores_stream(
    server: FakeModelServer, client: OpenAICompatClient
) -> None:
    server.set("m/a", ModelBehavior(text=ANSWER, streams=False, served_by="m/a-x"))
    sink = Sink()
    completion = await client.complete(ask(), sink)
    assert completion.text == ANSWER
    assert sink.text == ANSWER
    assert completion.served_by == "m/a-x"
    assert completion.usage.cost_source == "reported"


async def test_json_schema_becomes_response_format(
    server: FakeModelServer, client: OpenAICompatClient
) -> None:
    schema = {"title": "Judge Analysis", "type": "object", "properties": {}}
    await client.complete(ask(json_schema=schema))
    fmt = server.requests[0].body["response_format"]
    assert fmt == {
        "type": "json_schema",
        "json_schema": {"name": "Judge_Analysis", "strict": True, "schema": schema},
    }


async def test_json_schema_unsupported_is_a_400(
    server: FakeModelServer, client: OpenAICompatClient
) -> None:
    server.set("m/a", ModelBehavior(supports_json_schema=False))
    with pytest.raises(ModelHTTPError) as caught:
        await client.complete(ask(json_schema={"type": "object"}))
    assert caught.value.status == 400
    assert not caught.value.retryable


@pytest.mark.parametrize(
    ("fault", "status", "retryable"),
    [("500", 500, False), ("502", 502, True), ("402", 402, False), ("400", 400, False)],
)
async def test_http_faults_carry_status(
    server: FakeModelServer,
    client: OpenAICompatClient,
    fault: str,
    status: int,
    retryable: bool,
) -> None:
    server.set("m/a", ModelBehavior(fault=fault))
    with pytest.raises(ModelHTTPError) as caught:
        await client.complete(ask())
    assert caught.value.status == status
    assert caught.value.retryable is retryable
    assert caught.value.kind == f"http_{status}"
    assert "Fake fault" in str(caught.value)


async def test_429_carries_retry_after(server: FakeModelServer, client: OpenAICompatClient) -> None:
    server.set("m/a", ModelBehavior(fault="429", retry_after_s=7))
    with pytest.raises(ModelHTTPError) as caught:
        await client.complete(ask())
    assert caught.value.retryable
    assert caught.value.retry_after == 7.0


async def test_wrong_key_is_401_without_the_key(
    http: httpx.AsyncClient, server: FakeModelServer
) -> None:
    wrong_key = "sk-or-v1-wrong-key-should-never-leak"
    client = OpenAICompatClient(http, base_url=server.base_url, api_key=wrong_key)
    with pytest.raises(ModelHTTPError) as caught:
        await client.complete(ask())
    assert caught.value.status == 401
    assert not caught.value.retryable
    assert wrong_key not in str(caught.value)


async def test_timeout_is_a_hard_deadline_even_while_streaming(
    server: FakeModelServer, client: OpenAICompatClient
) -> None:
    server.set("m/a", ModelBehavior(fault="timeout"))
    with pytest.raises(ModelTimeout) as caught:
        await client.complete(ask(timeout_s=0.3))
    assert caught.value.retryable
    assert server.requests[0].stream


async def test_slow_stream_is_cut_by_the_deadline(
    server: FakeModelServer, client: OpenAICompatClient
) -> None:
    server.set("m/a", ModelBehavior(text="word " * 400, tokens_per_s=20))
    sink = Sink()
    with pytest.raises(ModelTimeout):
        await client.complete(ask(timeout_s=0.3), sink)
    assert sink.deltas, "the first chunks arrived before the deadline"


@pytest.mark.parametrize("streams", [True, False], ids=["sse", "plain"])
async def test_non_json_is_bad_output(
    server: FakeModelServer, client: OpenAICompatClient, streams: bool
) -> None:
    server.set("m/a", ModelBehavior(fault="non_json", streams=streams))
    with pytest.raises(ModelOutputError) as caught:
        await client.complete(ask())
    assert not caught.value.retryable


@pytest.mark.parametrize("streams", [True, False], ids=["sse", "plain"])
async def test_error_under_200_is_an_http_error(
    server: FakeModelServer, client: OpenAICompatClient, streams: bool
) -> None:
    server.set("m/a", ModelBehavior(fault="error_mid_stream", streams=streams))
    sink = Sink()
    with pytest.raises(ModelHTTPError) as caught:
        await client.complete(ask(), sink)
    assert caught.value.status == 502
    assert "Provider disconnected" in str(caught.value)
    if streams:
        assert sink.text == "A fine answer.", "text before the error was already streamed"


@pytest.mark.parametrize("streams", [True, False], ids=["sse", "plain"])
async def test_empty_content_is_bad_output(
    server: FakeModelServer, client: OpenAICompatClient, streams: bool
) -> None:
    server.set("m/a", ModelBehavior(fault="empty", streams=streams))
    sink = Sink()
    with pytest.raises(ModelOutputError, match="empty answer"):
        await client.complete(ask(), sink)
    assert sink.deltas == []


@pytest.mark.parametrize("streams", [True, False], ids=["sse", "plain"])
async def test_reasoning_only_answer_uses_the_reasoning(
    server: FakeModelServer, client: OpenAICompatClient, streams: bool
) -> None:
    server.set("m/a", ModelBehavior(text=ANSWER, fault="reasoning_only", streams=streams))
    sink = Sink()
    completion = await client.complete(ask(), sink)
    assert completion.text == ANSWER
    assert sink.deltas == [ANSWER], "reasoning is fed once, at the end"


@pytest.mark.parametrize("streams", [True, False], ids=["sse", "plain"])
async def test_disconnect_mid_answer_is_a_connection_error(
    server: FakeModelServer, client: OpenAICompatClient, streams: bool
) -> None:
    server.set("m/a", ModelBehavior(fault="disconnect", streams=streams))
    with pytest.raises(ModelConnectionError) as caught:
        await client.complete(ask())
    assert caught.value.retryable


async def test_unreachable_endpoint_is_a_connection_error(http: httpx.AsyncClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = OpenAICompatClient(http, base_url=f"http://127.0.0.1:{port}/v1", api_key=API_KEY)
    with pytest.raises(ModelConnectionError):
        await client.complete(ask())


@pytest.mark.parametrize(
    "fault",
    ["500", "429", "401", "timeout", "non_json", "error_mid_stream", "empty", "disconnect"],
)
async def test_no_error_mentions_the_api_key(
    server: FakeModelServer, client: OpenAICompatClient, fault: str
) -> None:
    server.set("m/a", ModelBehavior(fault=fault))
    with pytest.raises(ModelCallError) as caught:
        await client.complete(ask(timeout_s=0.2))
    rendered = " ".join([str(caught.value), repr(caught.value), caught.value.user_message])
    assert API_KEY not in rendered
    assert "Bearer" not in rendered
    assert API_KEY not in repr(client)


async def test_a_key_echoed_by_the_endpoint_is_scrubbed(http: httpx.AsyncClient) -> None:
    """The fake repeats an unknown slug in its error message: use that as an echo channel."""
    async with FakeModelServer(default=None, api_key=API_KEY) as strict:
        client = OpenAICompatClient(http, base_url=strict.base_url, api_key=API_KEY)
        with pytest.raises(ModelHTTPError) as caught:
            await client.complete(ask(model=f"leak/{API_KEY}"))
    assert "***" in caught.value.detail
    assert API_KEY not in caught.value.detail
