"""``RetryingClient``: what is retried, how long it waits, and what it never does."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from fusion_engine.errors import (
    ModelConnectionError,
    ModelHTTPError,
    ModelOutputError,
    ModelTimeout,
)
from fusion_engine.llm.base import ChatRequest
from fusion_engine.llm.function import FunctionModelClient
from fusion_engine.llm.openai_compat import OpenAICompatClient
from fusion_engine.llm.retry import RetryingClient
from tests.fakes.model_server import FakeModelServer, ModelBehavior

from .conftest import ask


class RecordedSleep:
    """An injected ``sleep`` that records the delays and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(float(seconds))


@pytest.fixture
def sleep() -> RecordedSleep:
    return RecordedSleep()


def retrying(
    client: OpenAICompatClient,
    sleep: RecordedSleep,
    *,
    max_retries: int = 2,
    base_delay_s: float = 0.5,
    max_delay_s: float = 20.0,
) -> RetryingClient:
    return RetryingClient(
        client,
        max_retries=max_retries,
        base_delay_s=base_delay_s,
        max_delay_s=max_delay_s,
        sleep=sleep,
    )


async def test_429_retry_after_is_honoured_then_succeeds(
    server: FakeModelServer, client: OpenAICompatClient, sleep: RecordedSleep
) -> None:
    server.set("m/a", ModelBehavior(fault="429", fault_times=2, retry_after_s=3))
    completion = await retrying(client, sleep).complete(ask())
    assert completion.text == "A fine answer."
    assert server.calls("m/a") == 3
    assert sleep.delays == [3.0, 3.0]


async def test_retry_after_longer_than_the_cap_gives_up_at_once(
    server: FakeModelServer, client: OpenAICompatClient, sleep: RecordedSleep
) -> None:
    server.set("m/a", ModelBehavior(fault="429", retry_after_s=120))
    with pytest.raises(ModelHTTPError) as caught:
        await retrying(client, sleep, max_delay_s=20).complete(ask())
    assert caught.value.retry_after == 120
    assert server.calls("m/a") == 1
    assert sleep.delays == []


async def test_retries_are_bounded(
    server: FakeModelServer, client: OpenAICompatClient, sleep: RecordedSleep
) -> None:
    server.set("m/a", ModelBehavior(fault="503"))
    with pytest.raises(ModelHTTPError) as caught:
        await retrying(client, sleep, max_retries=3).complete(ask())
    assert caught.value.status == 503
    assert server.calls("m/a") == 4
    assert len(sleep.delays) == 3


async def test_backoff_is_exponential_with_jitter_and_capped(
    server: FakeModelServer, client: OpenAICompatClient, sleep: RecordedSleep
) -> None:
    server.set("m/a", ModelBehavior(fault="502"))
    with pytest.raises(ModelHTTPError):
        await retrying(client, sleep, max_retries=5, base_delay_s=1, max_delay_s=6).complete(ask())
    assert len(sleep.delays) == 5
    for attempt, delay in enumerate(sleep.delays[:3]):
        floor = 2.0**attempt
        assert floor <= delay <= floor + 1.0
    assert all(d <= 6.0 for d in sleep.delays)
    assert sleep.delays[-1] == 6.0


@pytest.mark.parametrize("fault", ["400", "401", "402", "500", "non_json", "empty"])
async def test_permanent_failures_are_not_retried(
    server: FakeModelServer, client: OpenAICompatClient, sleep: RecordedSleep, fault: str
) -> None:
    server.set("m/a", ModelBehavior(fault=fault))
    with pytest.raises((ModelHTTPError, ModelOutputError)):
        await retrying(client, sleep).complete(ask())
    assert server.calls("m/a") == 1
    assert sleep.delays == []


async def test_timeout_and_disconnect_are_retried(
    server: FakeModelServer, client: OpenAICompatClient, sleep: RecordedSleep
) -> None:
    server.set("m/a", ModelBehavior(fault="timeout", fault_times=1))
    server.set("m/b", ModelBehavior(fault="disconnect", fault_times=1))
    wrapped = retrying(client, sleep)
    assert (await wrapped.complete(ask("m/a", timeout_s=0.3))).text
    assert (await wrapped.complete(ask("m/b"))).text
    assert server.calls("m/a") == 2
    assert server.calls("m/b") == 2


async def test_no_retry_once_text_was_streamed(
    server: FakeModelServer, client: OpenAICompatClient, sleep: RecordedSleep
) -> None:
    server.set("m/a", ModelBehavior(fault="error_mid_stream", fault_times=1))
    seen: list[str] = []

    async def on_text(delta: str) -> None:
        seen.append(delta)

    with pytest.raises(ModelHTTPError):
        await retrying(client, sleep).complete(ask(), on_text)
    assert seen == ["A fine answer."]
    assert server.calls("m/a") == 1


async def test_disconnect_before_any_text_is_retried_with_streaming(
    http: httpx.AsyncClient, sleep: RecordedSleep
) -> None:
    async with FakeModelServer({"m/a": ModelBehavior(fault="502", fault_times=1)}) as server:
        client = OpenAICompatClient(http, base_url=server.base_url, api_key="test-key")
        seen: list[str] = []

        async def on_text(delta: str) -> None:
            seen.append(delta)

        completion = await retrying(client, sleep).complete(ask(), on_text)
    assert "".join(seen) == completion.text
    assert server.calls("m/a") == 2


async def test_cancellation_is_never_swallowed() -> None:
    started = asyncio.Event()

    async def hang(request: ChatRequest) -> str:
        started.set()
        await asyncio.Event().wait()
        return "never"

    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    wrapped = RetryingClient(FunctionModelClient(hang), sleep=sleep)
    task = asyncio.create_task(wrapped.complete(ask()))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert slept == []


async def test_bugs_propagate_without_retry() -> None:
    calls = 0

    def broken(request: ChatRequest) -> str:
        nonlocal calls
        calls += 1
        raise KeyError("a bug, not a model failure")

    wrapped = RetryingClient(FunctionModelClient(broken))
    with pytest.raises(KeyError):
        await wrapped.complete(ask())
    assert calls == 1


async def test_wraps_any_model_client() -> None:
    failures = [ModelConnectionError("m/a"), ModelTimeout("m/a")]

    def flaky(request: ChatRequest) -> str:
        if failures:
            raise failures.pop(0)
        return "ok"

    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    completion = await RetryingClient(FunctionModelClient(flaky), sleep=sleep).complete(ask())
    assert completion.text == "ok"
    assert len(slept) == 2


@pytest.mark.parametrize(("per_request", "calls"), [(0, 1), (4, 5), (None, 3)])
async def test_a_request_can_set_its_own_retry_count(
    sleep: RecordedSleep, per_request: int | None, calls: int
) -> None:
    """A pool's ``max_retries`` travels on each ChatRequest and overrides the wrapper default."""
    seen: list[str] = []

    def always_busy(request: ChatRequest) -> str:
        seen.append(request.model)
        raise ModelHTTPError(request.model, 503, "busy")

    client = RetryingClient(FunctionModelClient(always_busy), max_retries=2, sleep=sleep)
    request = ChatRequest(
        model="m/a",
        messages=(),
        max_tokens=16,
        max_retries=per_request,
    )
    with pytest.raises(ModelHTTPError):
        await client.complete(request)
    assert len(seen) == calls
    assert len(sleep.delays) == calls - 1
