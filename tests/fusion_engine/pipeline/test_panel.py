"""Panel stage: failure kinds, quorum, grace, deadline, fallbacks, history."""

from __future__ import annotations

import asyncio

import pytest

from fusion_engine.errors import (
    ModelConnectionError,
    ModelHTTPError,
    ModelTimeout,
    QuorumError,
)
from fusion_engine.events import MemberFailed, MemberFinished
from fusion_engine.llm.base import ChatRequest, Completion, TextSink, Usage
from fusion_engine.llm.function import StaticPrices
from fusion_engine.pipeline.engine import FusionEngine
from fusion_engine.request import ConversationTurn
from fusion_engine.result import PanelAnswer, PanelFailure

from .helpers import Hang, Models, collect, make_engine, make_pool, make_request, raiser


async def test_each_failure_kind_is_recorded_with_its_reason() -> None:
    models = Models()
    models.handlers["m/a"] = raiser(ModelTimeout("m/a"))
    models.handlers["m/b"] = raiser(ModelHTTPError("m/b", 429, "rate limited upstream"))
    models.handlers["m/c"] = raiser(ModelConnectionError("m/c"))
    models.handlers["m/d"] = lambda _: "   \n "
    pool = make_pool(quorum=1, call_timeout_s=30)

    result = await make_engine(models).fuse(make_request(pool))

    failures = {f.model: f for f in result.failures}
    assert failures["m/a"].error_kind == "timeout"
    assert failures["m/a"].reason == "timed out after 30 s"
    assert failures["m/b"].error_kind == "http_429"
    assert "rate limited upstream" in failures["m/b"].reason
    assert failures["m/c"].error_kind == "connection"
    assert failures["m/c"].reason == "could not connect"
    assert failures["m/d"].error_kind == "bad_output"
    assert failures["m/d"].reason == "empty answer"
    assert [m.model for m in result.panel] == list(pool.models)
    assert [a.model for a in result.answers] == ["m/e"]
    assert result.degraded
    assert any(r.startswith("m/b: ") and "429" in r for r in result.degraded_reasons)


async def test_panel_calls_carry_timeout_cap_and_history() -> None:
    models = Models()
    pool = make_pool(call_timeout_s=12, max_output_tokens=300, temperature=0.3)
    history = (
        ConversationTurn(role="user", content="What is the answer?"),
        ConversationTurn(role="assistant", content="It is 42."),
    )
    await make_engine(models).fuse(make_request(pool, "And why?", history=history))

    call = models.calls_to("m/a")[0]
    assert call.timeout_s == 12
    assert call.max_tokens == 300
    assert call.temperature == 0.3
    assert call.json_schema is None
    assert [(m.role, m.content) for m in call.messages[1:]] == [
        ("user", "What is the answer?"),
        ("assistant", "It is 42."),
        ("user", "And why?"),
    ]
    assert call.messages[0].role == "system"


async def test_quorum_then_grace_cancels_stragglers() -> None:
    models = Models()
    straggler = Hang()
    models.handlers["m/d"] = straggler
    models.handlers["m/e"] = straggler
    pool = make_pool(quorum=3, grace_s=0.01, deadline_s=600)

    events = await collect(make_engine(models), make_request(pool))

    result = events[-1].result  # type: ignore[union-attr]
    assert sorted(straggler.cancelled) == ["m/d", "m/e"]
    failures = {f.model: f for f in result.failures}
    assert set(failures) == {"m/d", "m/e"}
    assert failures["m/d"].error_kind == "grace"
    assert failures["m/d"].reason == "still running after the 0.01 s grace period"
    assert {e.failure.model for e in events if isinstance(e, MemberFailed)} == {"m/d", "m/e"}
    assert len(result.answers) == 3


async def test_member_finishing_within_grace_is_kept() -> None:
    models = Models()
    quorum_in = asyncio.Event()
    answered = 0

    def quick(request: ChatRequest) -> str:
        nonlocal answered
        answered += 1
        if answered == 2:
            quorum_in.set()
        return f"{request.model} quick"

    async def late(request: ChatRequest) -> str:
        await quorum_in.wait()  # only answers once the quorum is in: during the grace period
        await asyncio.sleep(0)
        return "late but good"

    for m in ("m/a", "m/b"):
        models.handlers[m] = quick
    models.handlers["m/c"] = late
    pool = make_pool(("m/a", "m/b", "m/c"), quorum=2, grace_s=60)

    result = await make_engine(models).fuse(make_request(pool))

    assert [a.model for a in result.answers] == ["m/a", "m/b", "m/c"]
    assert not result.degraded


async def test_grace_starts_when_the_quorum_is_in_not_at_the_first_answer() -> None:
    """The second answer comes well after one grace period has passed since the first: counted
    from the first answer it would be cut (and the fusion fail for want of a quorum)."""
    models = Models()
    first_in = asyncio.Event()

    def first(request: ChatRequest) -> str:
        first_in.set()
        return "first"

    async def second(request: ChatRequest) -> str:
        await first_in.wait()
        await asyncio.sleep(0.5)  # ten grace periods after the first answer
        return "second"

    straggler = Hang()
    models.handlers["m/a"] = first
    models.handlers["m/b"] = second
    models.handlers["m/c"] = straggler
    pool = make_pool(("m/a", "m/b", "m/c"), quorum=2, grace_s=0.05, deadline_s=600)

    result = await make_engine(models).fuse(make_request(pool))

    assert [a.model for a in result.answers] == ["m/a", "m/b"]
    assert [(f.model, f.error_kind) for f in result.failures] == [("m/c", "grace")]
    assert straggler.cancelled == ["m/c"]


async def test_all_done_early_does_not_wait_for_grace() -> None:
    # A ten-minute grace and deadline: the test would time out if the engine waited for them.
    models = Models()
    pool = make_pool(quorum=2, grace_s=600, deadline_s=1800)
    result = await asyncio.wait_for(make_engine(models).fuse(make_request(pool)), timeout=60)
    assert len(result.answers) == 5


async def test_failures_before_quorum_end_the_wait_when_everyone_is_done() -> None:
    models = Models()
    models.handlers["m/a"] = raiser(ModelHTTPError("m/a", 500, "boom"))
    pool = make_pool(quorum=4, grace_s=600, deadline_s=1800)
    result = await asyncio.wait_for(make_engine(models).fuse(make_request(pool)), timeout=60)
    assert len(result.answers) == 4


async def test_deadline_cancels_members_and_names_it() -> None:
    # Nobody answers, so the outcome does not depend on how busy the machine is.
    models = Models()
    for m in make_pool().models:
        models.handlers[m] = Hang()
    pool = make_pool(quorum=2, grace_s=0, deadline_s=0.01)

    with pytest.raises(QuorumError) as caught:
        await make_engine(models).fuse(make_request(pool))

    assert caught.value.answered == 0
    assert caught.value.failures == dict.fromkeys(
        pool.models, "no answer within the 0.01 s panel deadline"
    )


async def test_deadline_before_grace_end_is_a_deadline_failure() -> None:
    models = Models()
    models.handlers["m/e"] = Hang()
    # The deadline leaves the instant members ample time even on a busy machine.
    pool = make_pool(quorum=2, grace_s=60, deadline_s=0.5)
    result = await make_engine(models).fuse(make_request(pool))
    (failure,) = result.failures
    assert failure.error_kind == "deadline"


async def test_below_quorum_names_each_distinct_cause_once_with_its_calls() -> None:
    models = Models()
    for m in ("m/a", "m/b", "m/c"):
        models.handlers[m] = raiser(ModelConnectionError(m, "refused"))
    models.handlers["m/d"] = raiser(ModelHTTPError("m/d", 503, "overloaded"))
    pool = make_pool(quorum=4)

    with pytest.raises(QuorumError) as caught:
        await make_engine(models).fuse(make_request(pool))

    assert str(caught.value) == (
        "only 1 of the panel answered, 4 needed "
        "(refused (m/a, m/b, m/c); m/d: HTTP 503: overloaded)"
    )


async def test_one_cause_for_every_call_is_said_once() -> None:
    models = Models()
    for m in make_pool().models:
        models.handlers[m] = raiser(ModelConnectionError(m, "refused"))
    pool = make_pool(quorum=2)

    with pytest.raises(QuorumError) as caught:
        await make_engine(models).fuse(make_request(pool))

    n = len(pool.models)
    assert str(caught.value) == (
        f"only 0 of the panel answered, 2 needed: all {n} calls failed: refused"
    )


async def test_below_quorum_raises_naming_every_failure() -> None:
    models = Models()
    for m in ("m/a", "m/b", "m/c", "m/d"):
        models.handlers[m] = raiser(ModelHTTPError(m, 503, "overloaded"))
    pool = make_pool(quorum=2)

    with pytest.raises(QuorumError) as caught:
        await make_engine(models).fuse(make_request(pool))

    assert caught.value.answered == 1
    assert set(caught.value.failures) == {"m/a", "m/b", "m/c", "m/d"}
    assert "HTTP 503: overloaded" in caught.value.failures["m/a"]
    assert str(caught.value).endswith(": 4 calls failed: HTTP 503: overloaded")
    assert not models.calls_to("m/judge")


async def test_fallback_slug_answers_and_is_reported() -> None:
    models = Models()
    models.handlers["m/a"] = raiser(ModelHTTPError("m/a", 404, "no such model"))
    models.handlers["m/a-old"] = raiser(ModelTimeout("m/a-old"))
    pool = make_pool(fallbacks={"m/a": ("m/a-old", "m/a-mini")})

    result = await make_engine(models).fuse(make_request(pool))

    answer = result.panel[0]
    assert isinstance(answer, PanelAnswer)
    assert answer.model == "m/a"
    assert answer.served_by == "m/a-mini"
    assert answer.text == "m/a-mini says 42"
    order = [c.model for c in models.calls if c.model.startswith("m/a")]
    assert order == ["m/a", "m/a-old", "m/a-mini"]


async def test_all_fallbacks_failing_keep_the_primary_reason() -> None:
    models = Models()
    models.handlers["m/a"] = raiser(ModelHTTPError("m/a", 402, "insufficient credits"))
    models.handlers["m/a-old"] = raiser(ModelConnectionError("m/a-old"))
    pool = make_pool(fallbacks={"m/a": ("m/a-old",)})

    result = await make_engine(models).fuse(make_request(pool))

    failure = result.panel[0]
    assert isinstance(failure, PanelFailure)
    assert failure.error_kind == "http_402"
    assert failure.reason == "HTTP 402: insufficient credits; fallback m/a-old: could not connect"


async def test_empty_answer_that_cost_money_is_counted() -> None:
    models = Models()
    costly_empty = Completion(
        model="m/a",
        served_by="m/a",
        text=" ",
        usage=Usage(prompt_tokens=10, completion_tokens=1, cost_micros=77, cost_source="reported"),
    )
    # FunctionModelClient rejects empty text itself, so hand the engine's check a bare client.
    inner = models.client

    class Passthrough:
        async def complete(
            self, request: ChatRequest, on_text: TextSink | None = None
        ) -> Completion:
            if request.model == "m/a":
                return costly_empty
            return await inner.complete(request, on_text)

    engine = FusionEngine(Passthrough(), StaticPrices({}))
    result = await engine.fuse(make_request())

    failure = result.panel[0]
    assert isinstance(failure, PanelFailure)
    assert failure.reason == "empty answer"
    assert failure.usage.cost_micros == 77
    assert result.judge is not None
    others = [a.usage for a in result.answers] + [result.judge.usage, result.writer.usage]
    assert result.usage.cost_micros == 77 + sum(u.cost_micros for u in others)


async def test_bug_in_a_model_call_propagates_and_cancels_the_rest() -> None:
    models = Models()
    hang = Hang()

    async def bug(_: ChatRequest) -> str:
        await hang.started.wait()
        raise KeyError("a bug, not a model failure")

    models.handlers["m/a"] = hang
    models.handlers["m/b"] = bug
    with pytest.raises(KeyError):
        await make_engine(models).fuse(make_request())
    assert hang.cancelled == ["m/a"]


async def test_member_events_are_published_as_members_finish() -> None:
    models = Models()
    events = await collect(make_engine(models), make_request())
    finished = [e.answer.model for e in events if isinstance(e, MemberFinished)]
    assert sorted(finished) == sorted(make_pool().models)


async def test_a_timeout_keeps_the_clients_own_account() -> None:
    models = Models()
    models.handlers["m/a"] = raiser(ModelTimeout("m/a", "ConnectTimeout talking to the endpoint"))
    result = await make_engine(models).fuse(make_request(make_pool(call_timeout_s=120)))
    (failure,) = result.failures
    assert failure.error_kind == "timeout"
    assert failure.reason == "ConnectTimeout talking to the endpoint"
