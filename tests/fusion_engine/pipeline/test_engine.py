"""The whole fusion: event order, streaming, writer fallback, costs, latencies, cancellation."""

from __future__ import annotations

import asyncio
import json
from contextlib import aclosing

import pytest

from fusion_engine.errors import FusionError, ModelConnectionError, ModelHTTPError, StageError
from fusion_engine.events import (
    AnalysisReady,
    Done,
    FusionEvent,
    MemberFinished,
    WriterDelta,
    WriterStarted,
)
from fusion_engine.llm.base import ChatRequest, Completion, TextSink, Usage
from fusion_engine.llm.function import FunctionModelClient, StaticPrices
from fusion_engine.llm.pricing import (
    UNPRICED_COMPLETION_MICROS_PER_MTOK,
    UNPRICED_PROMPT_MICROS_PER_MTOK,
)
from fusion_engine.money import cost_micros
from fusion_engine.pipeline.engine import FusionEngine

from .helpers import (
    FUSED,
    JUDGE,
    PRICE,
    WRITER,
    Hang,
    Models,
    collect,
    judge_reply,
    make_engine,
    make_pool,
    make_request,
    raiser,
)


async def test_happy_path_events_in_documented_order() -> None:
    models = Models()
    events = await collect(make_engine(models), make_request())
    types = [e.type for e in events]

    assert types[0] == "fusion_started"
    assert types[1:6] == ["member_started"] * 5
    assert sorted(types[6:11]) == ["member_finished"] * 5
    assert types[11:15] == ["panel_done", "judge_started", "analysis_ready", "writer_started"]
    deltas = [e for e in events if isinstance(e, WriterDelta)]
    assert deltas
    assert types[15 : 15 + len(deltas)] == ["writer_delta"] * len(deltas)
    assert types[-1] == "done"
    assert len(types) == 16 + len(deltas)

    result = events[-1].result  # type: ignore[union-attr]
    assert "".join(d.text for d in deltas) == FUSED == result.answer
    assert result.analysis is not None
    assert not result.degraded
    assert result.degraded_reasons == ()
    assert [m.model for m in result.panel] == list(make_pool().models)
    assert result.writer.model == WRITER
    assert result.latency.first_token_s is not None


async def test_events_are_delivered_while_the_fusion_runs() -> None:
    models = Models()
    consumer_saw_analysis = asyncio.Event()

    async def writer(_: ChatRequest) -> str:
        await consumer_saw_analysis.wait()  # would deadlock if events were batched until the end
        return FUSED

    models.handlers[WRITER] = writer
    async with aclosing(make_engine(models).run(make_request())) as stream:
        async for event in stream:
            if isinstance(event, AnalysisReady):
                consumer_saw_analysis.set()
            if isinstance(event, Done):
                assert event.result.answer == FUSED


async def test_writer_gets_labelled_answers_and_analysis_not_model_names() -> None:
    models = Models()
    texts = {m: f"draft {i}" for i, m in enumerate(make_pool().models)}
    for m in texts:
        models.handlers[m] = lambda r: texts[r.model]
    await make_engine(models).fuse(make_request())

    (call,) = models.calls_to(WRITER)
    prompt = call.messages[-1].content
    assert all(text in prompt for text in texts.values())
    assert "m/" not in prompt
    assert '"answer": "A"' in prompt
    assert "Never mention" in call.messages[0].content


async def test_slow_consumer_gets_coalesced_deltas_and_the_same_result() -> None:
    models = Models()
    long_text = "word " * 200
    models.handlers[WRITER] = lambda _: long_text
    received: list[FusionEvent] = []
    async with aclosing(make_engine(models).run(make_request())) as stream:
        async for event in stream:
            received.append(event)
            if isinstance(event, WriterStarted):
                for _ in range(20):  # fall behind while the writer streams 125 chunks
                    await asyncio.sleep(0)
    deltas = [e.text for e in received if isinstance(e, WriterDelta)]
    assert "".join(deltas) == long_text
    assert len(deltas) < len(long_text) // 8
    assert received[-1].result.answer == long_text  # type: ignore[union-attr]


async def test_writer_fallback_before_any_text() -> None:
    models = Models()
    models.handlers[WRITER] = raiser(ModelHTTPError(WRITER, 503, "overloaded"))
    models.handlers["m/writer2"] = lambda _: "fallback answer"
    pool = make_pool(writer_fallback="m/writer2")

    events = await collect(make_engine(models), make_request(pool))

    result = events[-1].result  # type: ignore[union-attr]
    assert result.answer == "fallback answer"
    assert "".join(e.text for e in events if isinstance(e, WriterDelta)) == "fallback answer"
    assert result.writer.model == "m/writer2"
    assert result.writer.used_fallback
    assert result.degraded
    assert "writer m/writer failed: HTTP 503: overloaded" in result.degraded_reasons
    assert "m/writer2 wrote the answer instead" in result.degraded_reasons


async def test_writer_fallback_after_partial_text_is_not_streamed() -> None:
    models = Models()
    inner = models.client

    class PartialWriter:
        async def complete(
            self, request: ChatRequest, on_text: TextSink | None = None
        ) -> Completion:
            if request.model == WRITER:
                assert on_text is not None
                await on_text("Partial ")
                raise ModelConnectionError(WRITER, "connection dropped")
            return await inner.complete(request, on_text)

    models.handlers["m/writer2"] = lambda _: "complete fallback answer"
    engine = FusionEngine(PartialWriter(), StaticPrices({}))
    events = await collect(engine, make_request(make_pool(writer_fallback="m/writer2")))

    result = events[-1].result  # type: ignore[union-attr]
    assert "".join(e.text for e in events if isinstance(e, WriterDelta)) == "Partial "
    assert result.answer == "complete fallback answer"
    assert result.writer.used_fallback


async def test_an_empty_writer_answer_that_cost_money_is_counted() -> None:
    """A writer that returns nothing was still billed: its usage joins the fusion's total
    (as the panel counts a member's empty answer), and the fallback writes the answer."""
    models = Models()
    inner = models.client
    billed = Usage(prompt_tokens=900, completion_tokens=3, cost_micros=4321, cost_source="reported")

    class EmptyWriter:  # FunctionModelClient rejects empty text itself
        async def complete(
            self, request: ChatRequest, on_text: TextSink | None = None
        ) -> Completion:
            if request.model == WRITER:
                return Completion(model=WRITER, served_by=WRITER, text="  ", usage=billed)
            return await inner.complete(request, on_text)

    models.handlers["m/writer2"] = lambda _: "complete fallback answer"
    engine = FusionEngine(EmptyWriter(), StaticPrices({}))
    result = await engine.fuse(make_request(make_pool(writer_fallback="m/writer2")))

    assert result.answer == "complete fallback answer"
    assert result.writer.model == "m/writer2"
    assert "writer m/writer failed: empty answer" in result.degraded_reasons
    others = sum((m.usage for m in result.panel), Usage()) + result.writer.usage
    assert result.judge is not None
    others += result.judge.usage
    assert result.usage.cost_micros == others.cost_micros + 4321
    assert result.usage.prompt_tokens == others.prompt_tokens + 900
    assert result.cost_micros == result.usage.cost_micros


async def test_every_writer_failing_fails_the_fusion() -> None:
    models = Models()
    models.handlers[WRITER] = raiser(ModelHTTPError(WRITER, 500, "down"))
    models.handlers["m/writer2"] = raiser(ModelHTTPError("m/writer2", 502, "bad gateway"))
    seen: list[str] = []

    async def on_event(event: FusionEvent) -> None:
        seen.append(event.type)

    engine = make_engine(models)
    with pytest.raises(FusionError) as caught:
        await engine.fuse(make_request(make_pool(writer_fallback="m/writer2")), on_event)

    assert "HTTP 500: down" in str(caught.value)
    assert "HTTP 502: bad gateway" in str(caught.value)
    assert seen[-1] == "writer_started"
    assert "done" not in seen


async def test_costs_sum_reported_and_priced_calls() -> None:
    models = Models()
    unknown = Usage(prompt_tokens=100, completion_tokens=50)
    for m in make_pool().models[1:]:
        models.handlers[m] = lambda r: Completion(
            model=r.model, served_by=r.model, text="fine", usage=unknown
        )
    models.handlers["m/a"] = lambda r: Completion(
        model=r.model,
        served_by=r.model,
        text="fine",
        usage=Usage(
            prompt_tokens=100, completion_tokens=50, cost_micros=1234, cost_source="reported"
        ),
    )
    models.handlers[JUDGE] = lambda r: Completion(
        model=r.model, served_by=r.model, text=judge_reply(r), usage=unknown
    )
    models.handlers[WRITER] = lambda r: Completion(
        model=r.model, served_by=r.model, text=FUSED, usage=unknown
    )
    prices = StaticPrices(
        {m: PRICE for m in (*make_pool().models, JUDGE)}  # the writer has no known price
    )

    result = await make_engine(models, prices).fuse(make_request())

    # 100 prompt tokens at $1/M = 100 µ$, 50 completion tokens at $2/M = 100 µ$.
    assert [m.usage.cost_micros for m in result.panel] == [1234, 200, 200, 200, 200]
    assert result.panel[1].usage.cost_source == "priced"
    assert result.judge is not None
    assert result.judge.usage.cost_micros == 200
    # No price for the writer: its tokens are charged at the quote's allowance, never $0.
    writer_cost = cost_micros(100, UNPRICED_PROMPT_MICROS_PER_MTOK) + cost_micros(
        50, UNPRICED_COMPLETION_MICROS_PER_MTOK
    )
    assert result.writer.usage.cost_micros == writer_cost
    assert result.writer.usage.cost_source == "estimated"
    assert result.usage.cost_micros == 1234 + 4 * 200 + 200 + writer_cost
    assert result.usage.prompt_tokens == 700
    assert result.usage.completion_tokens == 350
    assert result.usage.cost_source == "mixed"
    assert result.cost_micros == result.usage.cost_micros


async def test_latencies_come_from_the_injected_clock() -> None:
    now = [100.0]

    def advance(seconds: float, text: str) -> str:
        now[0] += seconds
        return text

    models = Models()
    models.handlers["m/a"] = lambda r: advance(2, "slowest")
    models.handlers[JUDGE] = lambda r: advance(3, judge_reply(r))
    models.handlers[WRITER] = lambda r: advance(5, FUSED)
    engine = FusionEngine(models.client, StaticPrices({}), clock=lambda: now[0])

    result = await engine.fuse(make_request())

    assert result.latency.panel_s == 2
    assert result.latency.judge_s == 3
    assert result.latency.writer_s == 5
    assert result.latency.total_s == 10
    assert result.latency.first_token_s == 10
    assert result.judge is not None
    assert result.judge.latency_s == 3
    assert result.writer.latency_s == 5


async def test_closing_run_early_cancels_in_flight_calls() -> None:
    models = Models()
    hang = Hang()
    models.handlers["m/e"] = hang
    pool = make_pool(quorum=5)
    async with aclosing(make_engine(models).run(make_request(pool))) as stream:
        async for event in stream:
            if isinstance(event, MemberFinished):
                break
    assert hang.started.is_set()
    assert hang.cancelled == ["m/e"]
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith(("fusion", "panel:"))]


async def test_cancelling_the_consumer_cancels_in_flight_calls() -> None:
    models = Models()
    hang = Hang()
    models.handlers[JUDGE] = hang
    task = asyncio.create_task(make_engine(models).fuse(make_request()))
    judging = asyncio.create_task(hang.started.wait())
    await asyncio.wait({task, judging}, return_when=asyncio.FIRST_COMPLETED)
    assert not task.done(), task  # the fusion must still be waiting on the judge
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert hang.cancelled == [JUDGE]


async def test_engine_serves_concurrent_fusions_independently() -> None:
    models = Models()
    engine = make_engine(models)
    questions = [f"question {i}?" for i in range(20)]
    results = await asyncio.gather(*(engine.fuse(make_request(question=q)) for q in questions))
    assert [r.question for r in results] == questions
    assert len({r.request_id for r in results}) == 20
    assert all(json.loads(r.model_dump_json())["answer"] == FUSED for r in results)


async def test_every_call_carries_the_pools_timeout_and_retry_count() -> None:
    models = Models()
    pool = make_pool(max_retries=5, call_timeout_s=33.0)
    await make_engine(models).fuse(make_request(pool))
    assert {c.model for c in models.calls} >= {*pool.models, JUDGE, WRITER}
    assert {(c.max_retries, c.timeout_s) for c in models.calls} == {(5, 33.0)}


async def test_a_fusion_that_dies_in_the_writer_still_reports_what_it_spent() -> None:
    """The judge's cost rides on AnalysisReady and a billed-but-empty writer's on StageError,
    so a worker can charge the real spend of a fusion that never reaches Done."""
    models = Models()
    inner = models.client
    billed = Usage(prompt_tokens=900, completion_tokens=3, cost_micros=4321, cost_source="reported")

    class EmptyWriter:
        async def complete(
            self, request: ChatRequest, on_text: TextSink | None = None
        ) -> Completion:
            if request.model == WRITER:
                return Completion(model=WRITER, served_by=WRITER, text="", usage=billed)
            return await inner.complete(request, on_text)

    prices = StaticPrices({JUDGE: PRICE})
    engine = FusionEngine(EmptyWriter(), prices)
    events: list[FusionEvent] = []

    async def on_event(event: FusionEvent) -> None:
        events.append(event)

    with pytest.raises(StageError) as caught:
        await engine.fuse(make_request(), on_event)
    [analysis] = [e for e in events if isinstance(e, AnalysisReady)]
    [judge_call] = models.calls_to(JUDGE)
    judged = FunctionModelClient(judge_reply, prices=prices)
    assert analysis.usage == (await judged.complete(judge_call)).usage  # exactly what it billed
    assert analysis.usage.cost_micros > 0
    assert caught.value.spent_micros == 4321
