"""Every call is covered before it starts: calls beyond the quote grow the hold or are not made.

The fusions here spend the most they can: every call reports the cost of its ceiling, prompts
are free and every token costs 100 micro-dollars, so each amount below is 100 × a sum of
``max_tokens`` (panel 2 × 100, judge 512, writer 256: a quote of $0.0968) and the budget is tested
at its edge.
The budget is the real Redis store, through ``run_charged`` (the ``fusion ask --tenant`` path)
and through the worker (the chat path, with its ledger on the same Redis).
"""

from __future__ import annotations

import asyncio
import random

import pytest
import redis.asyncio as aioredis

from fusion_engine.allowance import Allowance, call_ceiling
from fusion_engine.budget.redis_store import RedisBudgetStore
from fusion_engine.errors import BudgetExceeded, CallOverBudget, ModelHTTPError, StageError
from fusion_engine.jobs.base import FusionJob, ReplyTarget
from fusion_engine.jobs.ledger import RedisJobLedger
from fusion_engine.jobs.worker import Worker
from fusion_engine.llm.base import ChatMessage, ChatRequest, Completion, ModelPrice, Usage
from fusion_engine.llm.function import FunctionModelClient, StaticPrices
from fusion_engine.pipeline.engine import FusionEngine
from fusion_engine.pipeline.panel import Caller
from fusion_engine.service import run_charged
from tests.fusion_engine.jobs.fakes import RecordingResponder

from .helpers import FUSED, JUDGE, WRITER, Models, Reply, judge_reply, make_pool, make_request

WRITER2 = "m/writer2"
TENANT = "acme"
PER_TOKEN = 100
PRICE = ModelPrice(prompt_per_mtok=0, completion_per_mtok=PER_TOKEN * 1_000_000)
PRICES = StaticPrices({m: PRICE for m in ("m/a", "m/b", JUDGE, WRITER, WRITER2)})
POOL = make_pool(
    ("m/a", "m/b"),
    writer_fallback=WRITER2,
    max_output_tokens=100,
    judge_max_tokens=512,
    writer_max_tokens=256,
)
PANEL, JUDGE_CALL, WRITER_CALL = 2 * 100 * PER_TOKEN, 512 * PER_TOKEN, 256 * PER_TOKEN
QUOTE = PANEL + JUDGE_CALL + WRITER_CALL


class Spender(Models):
    """``Models`` whose every call is billed its ceiling. The judge's first reply is invalid
    (it needs its corrective retry); the first writer fails with nothing billed."""

    def __init__(self) -> None:
        super().__init__(PRICES)
        self.handlers[WRITER] = self._broken_writer
        self.handlers[WRITER2] = lambda _: FUSED
        self.handlers[JUDGE] = self._judge

    @staticmethod
    def _judge(request: ChatRequest) -> str:
        return judge_reply(request) if len(request.messages) > 2 else "not JSON at all"

    @staticmethod
    def _broken_writer(request: ChatRequest) -> str:
        raise ModelHTTPError(request.model, 500, "upstream broke")

    def _answer(self, request: ChatRequest) -> Reply:
        return self._billed(request)

    async def _billed(self, request: ChatRequest) -> Completion:
        reply = super()._answer(request)
        text = reply if isinstance(reply, str) else "unexpected"
        cost = await call_ceiling(request, PRICES)
        usage = Usage(
            completion_tokens=request.max_tokens, cost_micros=cost, cost_source="reported"
        )
        return Completion(model=request.model, served_by=request.model, text=text, usage=usage)


@pytest.fixture
def models() -> Spender:
    return Spender()


@pytest.fixture
def engine(models: Spender) -> FusionEngine:
    return FusionEngine(models.client, PRICES, rng=random.Random(7))


async def budget(redis_client: aioredis.Redis, limit: int) -> RedisBudgetStore:
    store = RedisBudgetStore(
        redis_client, default_daily_micros=limit, default_monthly_micros=10 * limit
    )
    await store.set_limits(TENANT, daily_micros=limit, monthly_micros=10 * limit)
    return store


async def test_the_quote_is_one_ceiling_per_stage(engine: FusionEngine) -> None:
    assert (await engine.quote(make_request(POOL))).micros == QUOTE


async def test_a_judge_retry_with_no_room_is_not_made_and_the_answer_says_so(
    redis_client: aioredis.Redis, models: Spender, engine: FusionEngine
) -> None:
    budgets = await budget(redis_client, QUOTE)
    result = await run_charged(budgets, engine, make_request(POOL), tenant=TENANT)
    assert len(models.calls_to(JUDGE)) == 1  # the corrective retry did not fit
    assert result.analysis is None
    assert result.degraded
    assert any("not run: the daily budget has $0.00 left" in r for r in result.degraded_reasons)
    assert result.answer == FUSED  # the second writer fit in what the first left unspent
    assert [c.model for c in models.calls if c.model.startswith(WRITER)] == [WRITER, WRITER2]
    assert result.cost_micros == QUOTE
    status = await budgets.status(TENANT)
    assert (status.daily_spent_micros, status.held_micros) == (QUOTE, 0)


async def test_a_writer_with_no_room_ends_the_fusion_with_the_budget_reason(
    redis_client: aioredis.Redis, models: Spender, engine: FusionEngine
) -> None:
    """Room for the judge's retry but not for the writer after it: a budget error, nothing
    written, charged exactly what was spent (the panel and both judge calls)."""
    limit = QUOTE + JUDGE_CALL - PER_TOKEN  # the retry fits; then the writer is 1 token short
    budgets = await budget(redis_client, limit)
    with pytest.raises(StageError) as info:
        await run_charged(budgets, engine, make_request(POOL), tenant=TENANT)
    message = info.value.user_message
    assert message.startswith("The fused answer could not be written: writer m/writer failed:")
    assert "not run: the daily budget has $0.0255 left" in message
    assert "could cost up to $0.0256 more" in message
    assert [c.model for c in models.calls if c.model.startswith(WRITER)] == []
    spent = PANEL + 2 * JUDGE_CALL
    status = await budgets.status(TENANT)
    assert (status.daily_spent_micros, status.held_micros) == (spent, 0)
    assert spent <= limit


async def test_a_top_up_grows_the_same_hold_and_the_fusion_completes(
    redis_client: aioredis.Redis, models: Spender, engine: FusionEngine
) -> None:
    limit = QUOTE + JUDGE_CALL  # the second writer reuses the failed first one's reservation
    budgets = await budget(redis_client, limit)
    result = await run_charged(budgets, engine, make_request(POOL), tenant=TENANT)
    assert len(models.calls_to(JUDGE)) == 2
    assert result.analysis is not None
    assert result.answer == FUSED
    assert result.cost_micros == limit
    status = await budgets.status(TENANT)
    assert (status.daily_spent_micros, status.held_micros) == (limit, 0)


async def test_an_allowance_grows_its_hold_by_what_calls_need(
    redis_client: aioredis.Redis,
) -> None:
    budgets = await budget(redis_client, 1_000)
    allowance = await Allowance.held(budgets, TENANT, "job", 600, spent_before=100, lease_s=60)
    assert (await budgets.status(TENANT)).held_micros == 700
    await allowance.reserve("m/a", 500)
    await allowance.reserve("m/b", 100)
    assert (await budgets.status(TENANT)).held_micros == 700
    allowance.release(500, 20)
    await allowance.reserve("m/c", 700)  # 20 + 100 + 700 = 820 of this run, 920 with before
    assert (await budgets.status(TENANT)).held_micros == 920
    with pytest.raises(CallOverBudget) as info:
        await allowance.reserve("m/d", 81)
    assert isinstance(info.value.__cause__, BudgetExceeded)
    assert info.value.kind == "budget"
    assert not info.value.retryable
    assert (allowance.committed, allowance.micros) == (820, 820)
    assert (await budgets.status(TENANT)).held_micros == 920


async def test_calls_ending_during_a_top_up_are_not_lost() -> None:
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow_top_up(total: int) -> None:
        entered.set()
        await release.wait()

    allowance = Allowance(100, slow_top_up)
    await allowance.reserve("m/a", 100)
    growing = asyncio.create_task(allowance.reserve("m/b", 50))
    await entered.wait()
    allowance.release(100, 10)  # m/a ends while m/b's top-up is in flight
    release.set()
    await growing
    assert allowance.committed == 60
    assert allowance.spent_micros == 10


REPLY = ReplyTarget(platform="slack", tenant=TENANT, channel_id="C1", user_id="U1")


async def run_worker_job(
    redis_client: aioredis.Redis,
    engine: FusionEngine,
    budgets: RedisBudgetStore,
    *,
    spent_by_a_crashed_attempt: int = 0,
) -> RecordingResponder:
    """Submit (hold the quote), optionally record a dead attempt's spend, run the job."""
    job = FusionJob(key="Ev1", request=make_request(POOL), reply=REPLY, quote_micros=QUOTE)
    await budgets.reserve(TENANT, job.key, QUOTE, lease_s=60)
    ledger = RedisJobLedger(redis_client)
    if spent_by_a_crashed_attempt:
        await ledger.record_spend(job.key, "crashed", spent_by_a_crashed_attempt)
    responder = RecordingResponder()
    worker = Worker(engine=engine, budgets=budgets, responders={"slack": responder}, ledger=ledger)
    await worker.run_job(job)
    return responder


async def test_the_worker_grows_the_job_hold_for_calls_beyond_the_quote(
    redis_client: aioredis.Redis, models: Spender, engine: FusionEngine
) -> None:
    limit = QUOTE + JUDGE_CALL
    budgets = await budget(redis_client, limit)
    responder = await run_worker_job(redis_client, engine, budgets)
    [(_, result, status)] = responder.results
    assert result.analysis is not None
    assert result.cost_micros == limit
    assert status is not None
    assert (status.daily_spent_micros, status.held_micros) == (limit, 0)


async def test_a_rerun_after_a_crash_covers_the_earlier_spend_too(
    redis_client: aioredis.Redis, models: Spender, engine: FusionEngine
) -> None:
    """A dead attempt spent 60,000; the re-run holds that plus its quote, and its judge retry
    grows the hold on top of both, so the writer after it no longer fits: a budget error,
    charged the dead attempt's spend plus the re-run's, exactly, and within the limit."""
    earlier = 60_000
    limit = earlier + QUOTE + JUDGE_CALL - PER_TOKEN
    budgets = await budget(redis_client, limit)
    responder = await run_worker_job(
        redis_client, engine, budgets, spent_by_a_crashed_attempt=earlier
    )
    [(_, error)] = responder.errors
    assert isinstance(error, StageError)
    assert "not run: the daily budget has $0.0255 left" in error.user_message
    assert len(models.calls_to(JUDGE)) == 2
    assert [c.model for c in models.calls if c.model.startswith(WRITER)] == []
    status = await budgets.status(TENANT)
    assert (status.daily_spent_micros, status.held_micros) == (earlier + PANEL + 2 * JUDGE_CALL, 0)


async def test_a_call_billed_above_its_ceiling_is_charged_the_ceiling() -> None:
    """An endpoint that bills more than the reservation (a prompt denser than estimated, a
    price above the listed one): the excess is ours, the team is charged what was held."""
    chat = ChatRequest(
        model="m/a", messages=(ChatMessage(role="user", content="hi"),), max_tokens=64
    )
    ceiling = await call_ceiling(chat, PRICES)
    assert ceiling == 64 * PER_TOKEN
    over = Usage(
        prompt_tokens=9_999, completion_tokens=64, cost_micros=10 * ceiling, cost_source="reported"
    )
    client = FunctionModelClient(
        lambda r: Completion(model=r.model, served_by=r.model, text="hello", usage=over)
    )
    allowance = Allowance(ceiling, refuse)
    caller = Caller(client=client, prices=PRICES, clock=lambda: 0.0, guard=allowance)
    _, usage = await caller.call(chat)
    assert usage.cost_micros == ceiling
    assert (allowance.spent_micros, allowance.committed) == (ceiling, ceiling)


async def refuse(total: int) -> None:
    raise AssertionError(f"no top-up expected (asked for {total})")
