"""Redis stopped mid-run: clear "temporarily unavailable" refusals that charge nothing, no crash
loop in the worker, and recovery on its own when Redis comes back (with its data)."""

from __future__ import annotations

import asyncio

import pytest

from bots.embedded_redis import EmbeddedRedis
from fusion_engine.budget.redis_store import RedisBudgetStore
from fusion_engine.config import load_config
from fusion_engine.errors import UnavailableError
from fusion_engine.jobs.base import ReplyTarget
from fusion_engine.jobs.saq_queue import SaqJobQueue
from fusion_engine.jobs.worker import Worker
from fusion_engine.ratelimit import UserRateLimiter
from fusion_engine.redis_guard import connect_redis
from fusion_engine.service import FusionService
from tests.fusion_engine.jobs.fakes import FakeEngine, RecordingResponder, request

REPLY = ReplyTarget(platform="slack", tenant="E1|T1", channel_id="C1", user_id="U1")


@pytest.mark.slow
async def test_redis_down_then_back(own_redis: EmbeddedRedis) -> None:
    redis = connect_redis(own_redis.url, timeout_s=0.5)
    queue = SaqJobQueue(connect_redis(own_redis.url, timeout_s=0.5), retry_delay_s=0.0)
    await queue.connect()
    budgets = RedisBudgetStore(
        redis, default_daily_micros=5_000_000, default_monthly_micros=50_000_000
    )
    engine, responder = FakeEngine(), RecordingResponder()
    service = FusionService(
        config=load_config(),
        engine=engine,
        budgets=budgets,
        queue=queue,
        limiter=UserRateLimiter.on_redis("100/minute", redis),
    )
    worker = Worker(engine=engine, budgets=budgets, responders={"slack": responder}, redis=redis)
    saq_worker = queue.worker(worker)
    running = asyncio.create_task(saq_worker.start())

    await service.submit("Ev1", request(user="U1"), REPLY)
    await responder.finished.wait()
    spent = (await service.budget(REPLY.tenant)).daily_spent_micros
    [(_, result, _)] = responder.results
    assert spent == result.cost_micros

    own_redis.stop()
    for call in (
        service.submit("Ev2", request(user="U1"), REPLY),
        service.budget(REPLY.tenant),
    ):
        with pytest.raises(UnavailableError) as info:
            await call
        assert "nothing was charged" in info.value.user_message
    assert not running.done()  # the worker waits for Redis; it does not crash

    own_redis.start()
    responder.finished.clear()
    accepted = await service.submit("Ev3", request(user="U1"), REPLY)
    assert accepted.budget.daily_spent_micros == spent  # data survived the restart
    await responder.finished.wait()
    assert [key for key, _, _ in responder.results] == ["Ev1", "Ev3"]
    status = await service.budget(REPLY.tenant)
    assert status.daily_spent_micros == spent + responder.results[1][1].cost_micros
    assert status.held_micros == 0  # Ev2 was refused and never held

    await saq_worker.stop()
    await running
    await queue.aclose()
    await redis.aclose()
