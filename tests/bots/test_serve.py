"""``fusion serve`` end to end: the official ``openai`` client over loopback, the fake model
server, a real Redis, and budgets charged to the exact micro-dollar."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openai
import pytest
import redis.asyncio as aioredis

from adapters.api import ApiKeyStore
from bots.commands.serve import open_api
from bots.embedded_redis import EmbeddedRedis
from bots.settings import Settings
from bots.wiring import Runtime
from fusion_engine.budget.redis_store import RedisBudgetStore
from fusion_engine.config import BudgetDefaults
from fusion_engine.request import FusionRequest
from tests.bots.conftest import JUDGE, PANEL, WRITER
from tests.fakes.model_server import FakeModelServer, ModelBehavior

QUESTION = "What is 6 x 7?"
ANSWER = f"{WRITER} thinks the answer is 42."
TENANT = "acme"


@pytest.fixture
def settings(cli_env: dict[str, str], redis_server: EmbeddedRedis, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        openrouter_base_url=cli_env["OPENROUTER_BASE_URL"],
        openrouter_api_key=cli_env["OPENROUTER_API_KEY"],
        fusion_config=Path(cli_env["FUSION_CONFIG"]),
        redis_url=redis_server.url,
        data_dir=tmp_path / "data",
    )


@pytest.fixture
async def api_url(settings: Settings, redis_client: aioredis.Redis) -> AsyncIterator[str]:
    async with open_api(settings, host="127.0.0.1", port=0, rate_limit="100/minute") as url:
        yield url


@pytest.fixture
async def secret(redis_client: aioredis.Redis) -> str:
    return (await ApiKeyStore(redis_client).create(TENANT, name="tests")).secret


def client(api_url: str, secret: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=api_url, api_key=secret, max_retries=0)


async def spent(redis_client: aioredis.Redis, tenant: str = TENANT) -> tuple[int, int]:
    """The tenant's ``(spent today, held)`` in micro-dollars."""
    status = await RedisBudgetStore.from_defaults(redis_client, BudgetDefaults()).status(tenant)
    return status.daily_spent_micros, status.held_micros


async def settlement(redis_client: aioredis.Redis) -> asyncio.Task[None]:
    """Set when the next budget hold is settled (a Redis keyspace notification)."""
    await redis_client.config_set("notify-keyspace-events", "K$")
    pubsub = redis_client.pubsub()
    await pubsub.psubscribe("__keyspace@*__:*:settled:*")
    await pubsub.get_message(timeout=1)  # the subscription's confirmation

    async def wait() -> None:
        try:
            while await pubsub.get_message(ignore_subscribe_messages=True, timeout=5) is None:
                pass
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    return asyncio.create_task(wait())


async def slow_writer(
    model_server: FakeModelServer, redis_client: aioredis.Redis
) -> asyncio.Task[None]:
    """Make the writer stream for about 15 s; the returned task ends at the next settlement."""
    model_server.requests.clear()
    model_server.set(WRITER, ModelBehavior(text="forty-two " * 1200, tokens_per_s=200))
    return await settlement(redis_client)


async def writer_cut_and_settled(
    model_server: FakeModelServer, settled: asyncio.Task[None]
) -> None:
    """The writer's stream was cut short (its fusion cancelled), then the hold was settled."""
    [writer] = [log for log in model_server.streams if log.model == WRITER]
    await asyncio.wait_for(writer.ended.wait(), 5)
    assert not writer.finished
    assert writer.sent < writer.pieces
    await asyncio.wait_for(settled, 5)  # by the server's cancelled handler


async def reference_run(settings: Settings, question: str = QUESTION) -> tuple[int, int, int]:
    """``(price of the fusion, its writer's share, its quote)``, run here in-process."""
    async with Runtime.open(settings) as rt:
        request = FusionRequest.create(question, rt.config.pool())
        quote = await rt.engine.quote(request)
        result = await rt.engine.fuse(request)
    return result.cost_micros, result.writer.usage.cost_micros, quote.micros


async def test_a_plain_completion_is_the_fused_answer_charged_exactly(
    settings: Settings, api_url: str, secret: str, redis_client: aioredis.Redis
) -> None:
    price, _, _ = await reference_run(settings)
    reply = await client(api_url, secret).chat.completions.create(
        model="fusion", messages=[{"role": "user", "content": QUESTION}]
    )
    assert reply.choices[0].message.content == ANSWER
    assert reply.choices[0].finish_reason == "stop"
    extra: dict[str, Any] = reply.model_extra or {}
    assert reply.usage is not None
    assert reply.usage.model_extra is not None
    assert reply.usage.model_extra["cost"] == price / 1_000_000
    assert [m["model"] for m in extra["fusion"]["panel"]] == list(PANEL)
    assert extra["fusion"]["analysis"] is not None
    assert extra["fusion"]["degraded"] is False
    assert await spent(redis_client) == (price, 0)


async def test_a_streamed_completion_sends_the_writers_text_and_usage(
    settings: Settings, api_url: str, secret: str, redis_client: aioredis.Redis
) -> None:
    price, _, _ = await reference_run(settings)
    stream = await client(api_url, secret).chat.completions.create(
        model="fusion/main",
        messages=[{"role": "user", "content": QUESTION}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, finish, usage = "", None, None
    async for piece in stream:
        if piece.choices:
            text += piece.choices[0].delta.content or ""
            finish = piece.choices[0].finish_reason or finish
        if piece.usage is not None:
            usage = piece.usage
    assert text == ANSWER
    assert finish == "stop"
    assert usage is not None
    assert usage.model_extra is not None
    assert usage.model_extra["cost"] == price / 1_000_000
    assert await spent(redis_client) == (price, 0)


async def test_the_stream_carries_progress_as_comments(api_url: str, secret: str) -> None:
    import httpx

    body = {"model": "fusion", "messages": [{"role": "user", "content": QUESTION}], "stream": True}
    headers = {"Authorization": f"Bearer {secret}"}
    async with httpx.AsyncClient() as http:
        reply = await http.post(f"{api_url}/chat/completions", json=body, headers=headers)
    comments = [line for line in reply.text.splitlines() if line.startswith(":")]
    assert ": Asking 3 models… 3/3 answered" in comments
    assert ": Comparing the answers…" in comments
    assert reply.text.rstrip().endswith("data: [DONE]")
    assert '"usage"' not in reply.text  # only when stream_options.include_usage asks


async def test_models_lists_the_default_and_each_pool(api_url: str, secret: str) -> None:
    models = await client(api_url, secret).models.list()
    assert [m.id for m in models.data] == ["fusion", "fusion/main", "fusion/other"]


async def test_a_revoked_or_unknown_key_is_refused_and_nothing_runs(
    api_url: str,
    secret: str,
    redis_client: aioredis.Redis,
    model_server: FakeModelServer,
) -> None:
    store = ApiKeyStore(redis_client)
    [key] = await store.all()
    await store.revoke(key.id)
    for bad in (secret, "fsk-made-up", "sk-not-ours"):
        with pytest.raises(openai.AuthenticationError) as caught:
            await client(api_url, bad).chat.completions.create(
                model="fusion", messages=[{"role": "user", "content": QUESTION}]
            )
        assert caught.value.status_code == 401
        assert "fusion keys create" in caught.value.message
    assert model_server.requests == []
    assert await spent(redis_client) == (0, 0)


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools"),
        ({"n": 2}, "n > 1"),
        ({"model": "gpt-4o"}, "Unknown model"),
        ({"model": "fusion/nope"}, "Unknown pool"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "x"}}],
                    }
                ]
            },
            "image_url",
        ),
        ({"messages": [{"role": "assistant", "content": "hi"}]}, "last message"),
        ({"messages": []}, "messages"),
    ],
    ids=["tools", "n", "model", "pool", "image", "last-role", "no-messages"],
)
async def test_bad_requests_are_400_with_a_reason_and_nothing_runs(
    api_url: str,
    secret: str,
    redis_client: aioredis.Redis,
    model_server: FakeModelServer,
    extra: dict[str, Any],
    needle: str,
) -> None:
    args: dict[str, Any] = {
        "model": "fusion",
        "messages": [{"role": "user", "content": QUESTION}],
    } | extra
    with pytest.raises(openai.BadRequestError) as caught:
        await client(api_url, secret).chat.completions.create(**args)
    assert needle in caught.value.message
    assert model_server.requests == []
    assert await spent(redis_client) == (0, 0)


async def test_unknown_fields_are_ignored_and_options_reach_the_writer(
    api_url: str, secret: str, model_server: FakeModelServer
) -> None:
    reply = await client(api_url, secret).chat.completions.create(
        model="fusion",
        messages=[
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": "What is 6 x 6?"},
            {"role": "assistant", "content": "36."},
            {"role": "user", "content": [{"type": "text", "text": QUESTION}]},
        ],
        max_tokens=300,
        temperature=0.25,
        extra_body={"some_future_field": {"x": 1}},
    )
    assert reply.choices[0].message.content == ANSWER
    writer = next(r for r in model_server.requests if r.model == WRITER)
    assert writer.body["max_tokens"] == 300
    assert writer.body["temperature"] == 0.25
    panel = next(r for r in model_server.requests if r.model == PANEL[0])
    assert "temperature" not in panel.body
    prompt = "\n".join(str(m["content"]) for m in panel.body["messages"])
    assert "Be terse." in prompt
    assert "36." in prompt
    assert QUESTION in prompt


async def test_a_budget_refusal_is_402_says_when_it_resets_and_charges_nothing(
    api_url: str,
    secret: str,
    redis_client: aioredis.Redis,
    model_server: FakeModelServer,
) -> None:
    await RedisBudgetStore.from_defaults(redis_client, BudgetDefaults()).set_limits(
        TENANT, daily_micros=1, monthly_micros=1
    )
    with pytest.raises(openai.APIStatusError) as caught:
        await client(api_url, secret).chat.completions.create(
            model="fusion", messages=[{"role": "user", "content": QUESTION}], stream=True
        )
    assert caught.value.status_code == 402
    assert "It resets" in caught.value.message
    body: Any = caught.value.body
    resets_at = datetime.fromisoformat(body["resets_at"])
    assert f"It resets {resets_at:%Y-%m-%d %H:%M} UTC" in caught.value.message
    assert resets_at > datetime.now(UTC)
    assert model_server.requests == []
    assert await spent(redis_client) == (0, 0)


async def test_the_per_key_rate_limit_is_429_with_retry_after(
    settings: Settings, secret: str, redis_client: aioredis.Redis
) -> None:
    async with open_api(settings, host="127.0.0.1", port=0, rate_limit="1/minute") as url:
        api = client(url, secret)
        await api.chat.completions.create(
            model="fusion", messages=[{"role": "user", "content": QUESTION}]
        )
        charged = await spent(redis_client)
        with pytest.raises(openai.RateLimitError) as caught:
            await api.chat.completions.create(
                model="fusion", messages=[{"role": "user", "content": QUESTION}]
            )
        assert int(caught.value.response.headers["Retry-After"]) >= 1
        other = (await ApiKeyStore(redis_client).create(TENANT)).secret
        await client(url, other).models.list()  # another key is not limited by this one
    assert await spent(redis_client) == charged


async def test_a_client_that_hangs_up_mid_stream_cancels_the_fusion_and_pays_what_was_spent(
    settings: Settings,
    api_url: str,
    secret: str,
    redis_client: aioredis.Redis,
    model_server: FakeModelServer,
) -> None:
    price, writer_share, quote = await reference_run(settings)
    settled = await slow_writer(model_server, redis_client)
    stream = await client(api_url, secret).chat.completions.create(
        model="fusion", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    async for piece in stream:
        if piece.choices and piece.choices[0].delta.content:
            break
    await stream.close()

    await writer_cut_and_settled(model_server, settled)
    charged, held = await spent(redis_client)
    assert (charged, held) == (price - writer_share, 0)
    assert charged <= quote
    assert [r.model for r in model_server.requests].count(JUDGE) == 1


async def test_a_plain_request_whose_client_gives_up_cancels_the_fusion_too(
    settings: Settings,
    api_url: str,
    secret: str,
    redis_client: aioredis.Redis,
    model_server: FakeModelServer,
) -> None:
    price, writer_share, _ = await reference_run(settings)
    settled = await slow_writer(model_server, redis_client)
    api = openai.AsyncOpenAI(base_url=api_url, api_key=secret, max_retries=0, timeout=2.0)
    with pytest.raises(openai.APITimeoutError):
        await api.chat.completions.create(
            model="fusion", messages=[{"role": "user", "content": QUESTION}]
        )
    await writer_cut_and_settled(model_server, settled)
    assert await spent(redis_client) == (price - writer_share, 0)


async def test_a_provider_that_is_down_is_503_and_charges_only_what_it_billed(
    api_url: str, secret: str, redis_client: aioredis.Redis, model_server: FakeModelServer
) -> None:
    for model in PANEL:
        model_server.set(model, ModelBehavior(fault="503"))
    with pytest.raises(openai.InternalServerError) as caught:
        await client(api_url, secret).chat.completions.create(
            model="fusion", messages=[{"role": "user", "content": QUESTION}]
        )
    assert caught.value.status_code == 503
    assert "of the panel answered" in caught.value.message
    assert await spent(redis_client) == (0, 0)


async def test_a_failure_after_the_stream_started_is_an_error_chunk_and_charges_the_spend(
    settings: Settings,
    api_url: str,
    secret: str,
    redis_client: aioredis.Redis,
    model_server: FakeModelServer,
) -> None:
    price, writer_share, _ = await reference_run(settings)
    model_server.set(WRITER, ModelBehavior(fault="error_mid_stream"))
    stream = await client(api_url, secret).chat.completions.create(
        model="fusion", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    with pytest.raises(openai.APIError) as caught:
        async for _ in stream:
            pass
    assert caught.value.message.startswith("The fused answer could not be written")
    assert caught.value.body == {
        "message": caught.value.message,
        "type": "server_error",
        "code": "unavailable",
        "param": None,
    }
    assert await spent(redis_client) == (price - writer_share, 0)


async def test_redis_down_is_503_and_nothing_runs(
    settings: Settings, own_redis: EmbeddedRedis, model_server: FakeModelServer
) -> None:
    settings = settings.model_copy(update={"redis_url": own_redis.url})
    async with open_api(settings, host="127.0.0.1", port=0) as url:
        redis = aioredis.Redis.from_url(own_redis.url)
        secret = (await ApiKeyStore(redis).create(TENANT)).secret
        await redis.aclose()
        own_redis.stop()
        with pytest.raises(openai.InternalServerError) as caught:
            await client(url, secret).chat.completions.create(
                model="fusion", messages=[{"role": "user", "content": QUESTION}]
            )
    assert caught.value.status_code == 503
    assert "nothing was charged" in caught.value.message
    assert model_server.requests == []


async def test_a_degraded_answer_says_why_in_the_fusion_object(
    api_url: str, secret: str, model_server: FakeModelServer
) -> None:
    model_server.set(PANEL[2], ModelBehavior(fault="400"))
    reply = await client(api_url, secret).chat.completions.create(
        model="fusion", messages=[{"role": "user", "content": QUESTION}]
    )
    fusion: dict[str, Any] = (reply.model_extra or {})["fusion"]
    assert fusion["degraded"] is True
    assert any(PANEL[2] in reason for reason in fusion["degraded_reasons"])
    [failure] = [m for m in fusion["panel"] if m["kind"] == "failure"]
    assert failure["model"] == PANEL[2]
    assert set(fusion["latency"]) >= {"panel_s", "judge_s", "writer_s", "total_s"}
