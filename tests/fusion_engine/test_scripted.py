"""``ScriptedEngine``, the engine port's fake: it plays its script and honours the guard."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fusion_engine.allowance import UNLIMITED, Allowance
from fusion_engine.budget.memory import MemoryBudgetStore
from fusion_engine.errors import CallOverBudget, QuorumError
from fusion_engine.events import FusionEvent
from fusion_engine.port import EnginePort, OnEvent, consume
from fusion_engine.request import FusionRequest
from fusion_engine.scripted import ScriptedEngine
from tests.bots.samples import sample_events, sample_result
from tests.fusion_engine.jobs.fakes import request
from tests.fusion_engine.test_port import Tracked

RESULT = sample_result()
EVENTS = sample_events(RESULT)
MEMBER = RESULT.answers[0].usage.cost_micros


async def played(engine: EnginePort, req: FusionRequest | None = None) -> list[FusionEvent]:
    return [event async for event in engine.run(req or request(), UNLIMITED)]


def recorder(seen: list[FusionEvent]) -> OnEvent:
    async def record(event: FusionEvent) -> None:
        seen.append(event)

    return record


async def test_a_list_is_played_for_every_run_and_runs_and_quotes_are_recorded() -> None:
    engine = ScriptedEngine(EVENTS, quote=12_345)
    first, second = request("one?"), request("two?")
    assert (await engine.quote(first)).micros == 12_345
    assert await played(engine, first) == EVENTS
    assert await played(engine, second) == EVENTS
    assert engine.requests == [first, second]
    assert engine.quoted == [first]


async def test_a_function_script_sync_or_async_and_a_quote_function() -> None:
    async def later(r: FusionRequest) -> AsyncIterator[FusionEvent]:
        for event in sample_events(RESULT.model_copy(update={"question": r.question})):
            yield event

    engine = ScriptedEngine(lambda r: EVENTS, quote=lambda r: len(r.question))
    assert await played(engine) == EVENTS
    assert (await engine.quote(request("abc?"))).micros == 4
    engine.script = later
    result = await consume(engine.run(request("Why?"), Allowance(10**9, _refuse)))
    assert result.question == "Why?"


async def test_an_exception_in_the_script_is_raised_where_it_stands() -> None:
    failure = QuorumError(1, 2, {"m/beta": "timed out"})
    engine = ScriptedEngine([*EVENTS[:3], failure, *EVENTS[3:]])
    seen: list[FusionEvent] = []
    with pytest.raises(QuorumError) as caught:
        await consume(engine.run(request()), on_event=recorder(seen))
    assert caught.value is failure
    assert seen == EVENTS[:3]


async def test_every_cost_is_charged_to_the_guard_exactly() -> None:
    budgets = MemoryBudgetStore()
    guard = await Allowance.held(budgets, "t", "hold", 1_000, lease_s=60)
    await consume(ScriptedEngine(EVENTS).run(request(), guard))
    assert guard.spent_micros == guard.committed == RESULT.cost_micros
    assert (await budgets.status("t")).held_micros == RESULT.cost_micros  # grown past 1,000


async def test_a_cost_the_guard_refuses_ends_the_stream_before_its_event() -> None:
    budgets = MemoryBudgetStore(default_daily_micros=MEMBER + 1)
    guard = await Allowance.held(budgets, "t", "hold", MEMBER, lease_s=60)
    seen: list[FusionEvent] = []
    with pytest.raises(CallOverBudget) as caught:
        await consume(ScriptedEngine(EVENTS).run(request(), guard), on_event=recorder(seen))
    assert caught.value.model == RESULT.answers[1].model
    assert [e.type for e in seen].count("member_finished") == 1
    assert guard.spent_micros == MEMBER


async def _refuse(total: int) -> None:
    raise AssertionError(f"no top-up expected, asked for {total}")


async def test_closing_the_stream_closes_an_async_script() -> None:
    script = Tracked()
    stream = ScriptedEngine(script.play).run(request())
    assert await anext(stream) == EVENTS[0]
    await stream.aclose()  # type: ignore[attr-defined]  # what consume does when it stops
    assert script.closed
