"""A real worker process for crash tests: ``python -m tests.fusion_engine.jobs.worker_entry URL``.

It runs the saq worker with the fake engine. With ``--block`` the engine stops after the panel
(its spend already recorded), pushes to ``test:reached`` and waits forever, so the test can
SIGKILL it at a known point. Answers are pushed to ``test:answers`` (one entry per delivery).
Timers are short so the test's second worker sweeps the dead one's job within seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import logging

import redis.asyncio as aioredis

from fusion_engine.budget.base import BudgetStatus
from fusion_engine.budget.redis_store import RedisBudgetStore
from fusion_engine.errors import FusionError
from fusion_engine.events import FusionEvent
from fusion_engine.jobs.base import FusionJob
from fusion_engine.jobs.saq_queue import SaqJobQueue
from fusion_engine.jobs.worker import Worker
from fusion_engine.redis_guard import connect_redis
from fusion_engine.result import FusionResult
from tests.fusion_engine.jobs.fakes import FakeEngine

REACHED = "test:reached"
ANSWERS = "test:answers"


class RedisRecordingResponder:
    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis

    async def on_event(self, job: FusionJob, event: FusionEvent) -> None:
        return None

    async def on_result(
        self, job: FusionJob, result: FusionResult, budget: BudgetStatus | None
    ) -> None:
        panel = sum(a.usage.cost_micros for a in result.answers)
        entry = f"{job.key}:{result.cost_micros}:{panel}"
        await self._redis.rpush(ANSWERS, entry)  # type: ignore[misc]

    async def on_error(self, job: FusionJob, error: FusionError) -> None:
        await self._redis.rpush(ANSWERS, f"{job.key}:error")  # type: ignore[misc]


async def main(url: str, block: bool) -> None:
    redis = connect_redis(url)

    async def gate() -> None:
        await redis.rpush(REACHED, "1")  # type: ignore[misc]
        await asyncio.Event().wait()

    budgets = RedisBudgetStore(
        redis, default_daily_micros=5_000_000, default_monthly_micros=50_000_000
    )
    responder = RedisRecordingResponder(redis)
    worker = Worker(
        engine=FakeEngine(gate=gate if block else None),
        budgets=budgets,
        responders={"slack": responder},
        redis=redis,
        lock_ttl_s=2.0,
        keepalive_s=0.5,
    )
    queue = SaqJobQueue(
        connect_redis(url, blocking_commands=True), heartbeat_s=2, retry_delay_s=0.0
    )
    await queue.connect()
    try:
        await queue.worker(worker, sweep_s=1, shutdown_grace_s=5).start(handle_signals=True)
    finally:
        await queue.aclose()
        await redis.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--block", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    asyncio.run(main(args.url, args.block))
