"""The client-side output cap, over real HTTP against the fake server's overrunning model.

A provider that ignores ``max_tokens`` must not be read (or charged for) past it: the client
stops at the cap, hangs up, labels the answer truncated and reports the usage the quote
assumed. An empty answer that was billed keeps its usage on the error.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from fusion_engine.errors import ModelOutputError
from fusion_engine.llm.base import ChatMessage, Usage
from fusion_engine.llm.openai_compat import OpenAICompatClient
from fusion_engine.llm.pricing import ModelsPriceSource
from fusion_engine.money import cost_micros, usd_to_micros
from fusion_engine.pipeline.engine import FusionEngine
from fusion_engine.pipeline.panel import Caller
from fusion_engine.pools import PoolSpec
from fusion_engine.request import FusionRequest
from fusion_engine.result import PanelAnswer
from fusion_engine.tokens import estimate_messages, estimate_tokens
from tests.fakes.judge import analysis_json_for, is_judge_request
from tests.fakes.model_server import (
    FakeModelServer,
    ModelBehavior,
    StreamLog,
    count_tokens,
    overrun,
)

from .conftest import API_KEY, ask

CAP = 64
PROMPT_MICROS_PER_MTOK = 1_000_000  # the fake's default prices: $1 and $2 per million tokens
COMPLETION_MICROS_PER_MTOK = 2_000_000


class Sink:
    def __init__(self) -> None:
        self.deltas: list[str] = []

    async def __call__(self, delta: str) -> None:
        self.deltas.append(delta)


async def ended(log: StreamLog) -> StreamLog:
    async with asyncio.timeout(5):
        await log.ended.wait()
    return log


def cap_cost(prompt: tuple[ChatMessage, ...], max_tokens: int) -> int:
    """What the quote reserves for one call: its estimated prompt and all of ``max_tokens``."""
    return cost_micros(estimate_messages(prompt), PROMPT_MICROS_PER_MTOK) + cost_micros(
        max_tokens, COMPLETION_MICROS_PER_MTOK
    )


async def test_an_overrunning_stream_is_cut_at_max_tokens_and_the_connection_closed(
    server: FakeModelServer, client: OpenAICompatClient
) -> None:
    behavior = overrun()
    assert isinstance(behavior.text, str)
    server.set("m/over", behavior)
    sink = Sink()
    request = ask("m/over", max_tokens=CAP)

    completion = await client.complete(request, sink)

    # 4-character events, ASCII at 3 characters a token: exactly the first 192 characters fit.
    assert completion.text == behavior.text[: 3 * CAP]
    assert estimate_tokens(completion.text) == CAP
    assert "".join(sink.deltas) == completion.text
    assert completion.truncated
    assert completion.finish_reason == "length"
    assert completion.usage == Usage(
        prompt_tokens=estimate_messages(request.messages),
        completion_tokens=CAP,
        cost_micros=0,
        cost_source="unknown",
    )
    (log,) = server.streams
    await ended(log)
    assert not log.finished  # the usage chunk and [DONE] were never sent: the client hung up
    assert log.pieces == 35_000
    assert log.sent < 3 * CAP // 4 + 50  # the 48 pieces read, and little more


async def test_the_cut_answer_is_charged_what_the_quote_assumed(
    http: httpx.AsyncClient, server: FakeModelServer, client: OpenAICompatClient
) -> None:
    """The last chunk (with the real usage and cost) never arrives: the call is priced from
    ``/models`` at the estimated prompt and exactly ``max_tokens`` of output."""
    server.set("m/over", overrun(report_cost=True))
    prices = ModelsPriceSource(http, base_url=server.base_url, api_key=API_KEY)
    caller = Caller(client=client, prices=prices, clock=time.monotonic)
    request = ask("m/over", max_tokens=CAP)

    completion, usage = await caller.call(request)

    assert completion.truncated
    assert usage.cost_source == "priced"
    assert usage.cost_micros == cap_cost(request.messages, CAP)
    await prices.aclose()


async def test_a_usage_sent_before_the_cut_is_not_what_is_charged(
    server: FakeModelServer, client: OpenAICompatClient
) -> None:
    """Some servers send the usage so far in every chunk. At the cut that is only the part
    before the last chunk read, already reported as a cost: it must not be taken as the
    call's usage, or ``price_usage`` would keep it as the final charge."""
    server.set("m/over", overrun(running_usage=True))
    request = ask("m/over", max_tokens=CAP)

    completion = await client.complete(request)

    assert completion.truncated
    assert completion.usage == Usage(
        prompt_tokens=estimate_messages(request.messages),
        completion_tokens=CAP,
        cost_source="unknown",
    )


async def test_reasoning_counts_towards_the_cap(
    server: FakeModelServer, client: OpenAICompatClient
) -> None:
    behavior = overrun(fault="reasoning_only")
    assert isinstance(behavior.text, str)
    server.set("m/over", behavior)
    sink = Sink()

    completion = await client.complete(ask("m/over", max_tokens=CAP), sink)

    assert completion.truncated
    assert completion.text == behavior.text[: 3 * CAP]
    assert sink.deltas == [completion.text]
    assert not (await ended(server.streams[0])).finished


async def test_an_answer_that_ends_exactly_at_the_cap_is_complete(
    server: FakeModelServer, client: OpenAICompatClient
) -> None:
    """A provider that honours ``max_tokens`` is read to its end and charged what it says."""
    text = "abcd" * (3 * CAP // 4)
    assert estimate_tokens(text) == CAP
    server.set("m/a", ModelBehavior(text=text, piece_chars=4))

    completion = await client.complete(ask("m/a", max_tokens=CAP))

    assert completion.text == text
    assert not completion.truncated
    assert completion.finish_reason == "stop"
    assert completion.usage.cost_source == "reported"
    assert (await ended(server.streams[0])).finished


async def test_a_plain_json_overrun_is_cut_for_use_but_charged_as_reported(
    server: FakeModelServer, client: OpenAICompatClient
) -> None:
    """An endpoint that answers with one body has already sent (and billed) all of it: the
    reported usage stands, but only the capped text is passed on to downstream prompts."""
    behavior = overrun(streams=False, prompt_price_usd_per_mtok=3, completion_price_usd_per_mtok=15)
    assert isinstance(behavior.text, str)
    server.set("m/over", behavior)
    sink = Sink()

    completion = await client.complete(ask("m/over", max_tokens=CAP), sink)

    assert completion.truncated
    assert completion.finish_reason == "length"
    assert estimate_tokens(completion.text) <= CAP
    assert behavior.text.startswith(completion.text)
    assert behavior.text[len(completion.text)] == " "  # cut between words
    assert sink.deltas == [completion.text]
    usage = completion.usage
    assert usage.completion_tokens == count_tokens(behavior.text) == 35_000
    assert usage.cost_source == "reported"
    assert usage.cost_micros == usd_to_micros(
        (usage.prompt_tokens * 3 + usage.completion_tokens * 15) / 1_000_000
    )


@pytest.mark.parametrize("streams", [True, False], ids=["sse", "plain"])
async def test_an_empty_answer_keeps_its_billed_usage(
    server: FakeModelServer, client: OpenAICompatClient, streams: bool
) -> None:
    server.set("m/a", ModelBehavior(fault="empty", streams=streams, prompt_price_usd_per_mtok=3))

    with pytest.raises(ModelOutputError) as caught:
        await client.complete(ask("m/a"))

    prompt_tokens = count_tokens("What is 2 + 2?")
    assert caught.value.usage == Usage(
        prompt_tokens=prompt_tokens,
        completion_tokens=0,
        cost_micros=usd_to_micros(prompt_tokens * 3 / 1_000_000),
        cost_source="reported",
    )


async def test_a_fusion_uses_and_labels_cut_answers_and_charges_at_most_the_quote(
    http: httpx.AsyncClient, server: FakeModelServer, client: OpenAICompatClient
) -> None:
    """One panel member and the writer ignore ``max_tokens``: the fusion goes on with their cut
    answers, labelled, and each of them costs exactly what the quote reserved for its output."""

    def role_aware(body: dict[str, Any]) -> str:
        if is_judge_request(body):
            return analysis_json_for("\n".join(m["content"] for m in body["messages"]))
        return "A fine, complete answer."

    server.set("m/a", ModelBehavior(text=role_aware))
    server.set("m/judge", ModelBehavior(text=role_aware))
    server.set("m/over", overrun())
    server.set("m/writer", overrun())
    pool = PoolSpec(
        name="capped",
        models=("m/a", "m/over"),
        judge="m/judge",
        writer="m/writer",
        max_output_tokens=CAP,
        writer_max_tokens=256,
    )
    prices = ModelsPriceSource(http, base_url=server.base_url, api_key=API_KEY)
    engine = FusionEngine(client, prices)
    request = FusionRequest.create("Why is the sky blue?", pool)
    quote = await engine.quote(request)

    result = await engine.fuse(request)

    answered, cut = result.panel
    assert isinstance(answered, PanelAnswer)
    assert isinstance(cut, PanelAnswer)
    assert answered.cut_at_tokens is None
    assert cut.cut_at_tokens == CAP
    assert cut.usage.cost_micros == quote.per_model["m/over"]
    assert result.writer.cut_at_tokens == 256
    assert estimate_tokens(result.answer) == 256
    assert "the fused answer was cut at 256 tokens" in result.degraded_reasons
    assert result.degraded
    (writer_call,) = [r for r in server.requests if r.model == "m/writer"]
    writer_prompt = tuple(ChatMessage.model_validate(m) for m in writer_call.body["messages"])
    assert result.writer.usage.cost_micros == cap_cost(writer_prompt, 256)
    assert result.writer.usage.cost_micros <= quote.per_model["m/writer"]
    for log in server.streams:
        assert not (await ended(log)).finished
    await prices.aclose()
