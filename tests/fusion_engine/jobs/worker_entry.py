"""A real worker process for crash tests: ``python -m tests.fusion_engine.jobs.worker_entry URL``.

It runs the saq worker with the fake engine. With ``--block`` the engine stops after the panel
(its spend already recorded), pushes to ``test:reached`` and waits forever, so the test can
SIGKILL it at a known point. With ``--pause STAGE`` (repeatable) the worker stops at that stage,
pushes ``pid:stage:job`` to ``test:stages`` and waits for a word on ``test:go:<pid>`` (or
``PAUSE_S``), so a test can SIGKILL it exactly there or let it go on:

- ``panel``: the first panel member has answered (its spend recorded), the others not yet;
- ``writer``: the judge has answered, the writer is about to be called;
- ``recovery``: this worker's sweep has just aborted a dead worker's stuck job, before it
  re-queues it — the job is in none of saq's lists.

Answers are pushed to ``test:answers`` (one entry per delivery). Timers are short so another
worker sweeps (or reaps) a dead one's job within seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os

import redis.asyncio as aioredis
from saq import Job

from fusion_engine.budget.base import BudgetStatus
from fusion_engine.budget.redis_store import RedisBudgetStore
from fusion_engine.errors import FusionError
from fusion_engine.events import FusionEvent, MemberFinished, WriterStarted
from fusion_engine.jobs.base import FusionJob
from fusion_engine.jobs.saq_queue import SaqJobQueue, _PatientRedisQueue
from fusion_engine.jobs.worker import Worker
from fusion_engine.redis_guard import connect_redis
from fusion_engine.result import FusionResult
from tests.fusion_engine.jobs.fakes import PANEL, FakeEngine

REACHED = "test:reached"
ANSWERS = "test:answers"
STAGES = "test:stages"
PAUSE_S = 10
PENDING_LEASE_S = 1.0
"""The pending lease of every test worker: a job saq lost is re-queued about a second later."""


def go(pid: int) -> str:
    """The list a paused worker ``pid`` waits on."""
    return f"test:go:{pid}"


class Pauses:
    """Stops the worker at the chosen stages until the test says go (or kills it)."""

    def __init__(self, redis: aioredis.Redis, stages: set[str]) -> None:
        self._redis = redis
        self.stages = stages

    async def __call__(self, stage: str, key: str) -> None:
        if stage not in self.stages:
            return
        pid = os.getpid()
        await self._redis.rpush(STAGES, f"{pid}:{stage}:{key}")
        await self._redis.blpop([go(pid)], timeout=PAUSE_S)


class RedisRecordingResponder:
    def __init__(self, redis: aioredis.Redis, pause: Pauses) -> None:
        self._redis = redis
        self._pause = pause

    async def on_event(self, job: FusionJob, event: FusionEvent) -> None:
        if isinstance(event, MemberFinished) and event.answer.model == PANEL[0]:
            await self._pause("panel", job.key)
        elif isinstance(event, WriterStarted):
            await self._pause("writer", job.key)

    async def on_result(
        self, job: FusionJob, result: FusionResult, budget: BudgetStatus | None
    ) -> None:
        panel = sum(a.usage.cost_micros for a in result.answers)
        entry = f"{job.key}:{result.cost_micros}:{panel}"
        await self._redis.rpush(ANSWERS, entry)

    async def on_error(self, job: FusionJob, error: FusionError) -> None:
        await self._redis.rpush(ANSWERS, f"{job.key}:error")


def pause_after_abort(pause: Pauses) -> None:
    """Pause the sweep right after saq's ``abort`` of a stuck job: the recovery window."""
    abort = _PatientRedisQueue.abort

    async def paused(self: _PatientRedisQueue, job: Job, error: str, ttl: float = 5) -> None:
        await abort(self, job, error, ttl)
        await pause("recovery", job.key)

    _PatientRedisQueue.abort = paused  # type: ignore[method-assign,assignment]


async def main(
    url: str, *, block: bool, stages: set[str], delay_s: float, concurrency: int
) -> None:
    redis = connect_redis(url, blocking_commands=True)  # it BLPOPs when paused
    pause = Pauses(redis, stages)
    if "recovery" in stages:
        pause_after_abort(pause)

    async def gate() -> None:
        await redis.rpush(REACHED, "1")
        await asyncio.Event().wait()

    budgets = RedisBudgetStore(
        redis, default_daily_micros=5_000_000, default_monthly_micros=50_000_000
    )
    worker = Worker(
        engine=FakeEngine(gate=gate if block else None, delay_s=delay_s),
        budgets=budgets,
        responders={"slack": RedisRecordingResponder(redis, pause)},
        redis=redis,
        lock_ttl_s=1.0,
        keepalive_s=0.25,
    )
    queue = SaqJobQueue(
        connect_redis(url, blocking_commands=True),
        heartbeat_s=2,
        retry_delay_s=0.0,
        pending_lease_s=PENDING_LEASE_S,
    )
    for saq_queue in queue.queues.values():
        saq_queue.abort_wait_s = 0.5  # short: a storm leaves many dead workers' jobs to sweep
    await queue.connect()
    runner = queue.worker(
        worker, concurrency=concurrency, sweep_s=1, shutdown_grace_s=5, reap_s=0.25
    )
    try:
        await runner.start(handle_signals=True)
    finally:
        await queue.aclose()
        await redis.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--block", action="store_true")
    parser.add_argument(
        "--pause", action="append", default=[], choices=["panel", "writer", "recovery"]
    )
    parser.add_argument("--delay", type=float, default=0.0, help="seconds per model call")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    asyncio.run(
        main(
            args.url,
            block=args.block,
            stages=set(args.pause),
            delay_s=args.delay,
            concurrency=args.concurrency,
        )
    )
