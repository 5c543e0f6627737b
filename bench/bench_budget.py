"""Budgets and jobs on a real Redis: how fast is the money path, how soon does a job start?

Measures, against one embedded ``redis-server`` on loopback started by this script:

- Redis's own ``PING`` round trip from this process (the floor for everything below);
- ``reserve`` + ``settle`` pairs per second from one process (the Lua scripts), one pair at a
  time and 32 in flight;
- the ack path, ``FusionService.submit`` (rate limit, quote from a fixed stand-in, reserve,
  enqueue), p50/p99;
- enqueue → job start latency, p50/p99, with 1 and 4 worker *processes* (saq, concurrency 8
  each; the engine is a stand-in that records when it starts and answers at once).

    uv run python -m bench.bench_budget [--pairs 3000] [--jobs 200]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from bots.embedded_redis import EmbeddedRedis
from fusion_engine.allowance import UNLIMITED, SpendGuard
from fusion_engine.budget.base import BudgetStatus
from fusion_engine.budget.redis_store import RedisBudgetStore
from fusion_engine.config import load_config
from fusion_engine.errors import FusionError
from fusion_engine.events import FusionEvent
from fusion_engine.jobs.base import FusionJob, ReplyTarget
from fusion_engine.jobs.saq_queue import SaqJobQueue
from fusion_engine.jobs.worker import Worker
from fusion_engine.ratelimit import UserRateLimiter
from fusion_engine.redis_guard import connect_redis
from fusion_engine.request import FusionRequest
from fusion_engine.result import FusionResult
from fusion_engine.scripted import ScriptedEngine
from fusion_engine.service import FusionService
from tests.fusion_engine.jobs.fakes import FakeEngine
from tests.redis_text import text

READY, STARTED = "bench:ready", "bench:started"
REPLY = ReplyTarget(platform="discord", tenant="bench", channel_id="C1")
"""Jobs the bench's workers run (they answer only this platform's queue)."""
QUEUED_ONLY = REPLY.model_copy(update={"platform": "slack"})
"""Jobs of the ack-path measure: queued on another platform's queue, so no worker runs them."""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(values: list[float]) -> str:
    return f"{pct(values, 0.5) * 1000:.2f} / {pct(values, 0.99) * 1000:.2f}"


class StartRecorder(FakeEngine):
    """The fake engine, but it first records (in Redis) when the job started."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self._redis = connect_redis(url)

    async def run(
        self, request: FusionRequest, guard: SpendGuard = UNLIMITED
    ) -> AsyncIterator[FusionEvent]:
        await self._redis.rpush(STARTED, f"{request.request_id}:{time.time()}")
        async for event in super().run(request, guard):
            yield event


class Silent:
    async def on_event(self, job: FusionJob, event: FusionEvent) -> None:
        return None

    async def on_result(
        self, job: FusionJob, result: FusionResult, budget: BudgetStatus | None
    ) -> None:
        return None

    async def on_error(self, job: FusionJob, error: FusionError) -> None:
        return None


async def serve(url: str) -> None:
    """A worker process: saq workers running ``Worker`` with the recording engine."""
    redis = connect_redis(url)
    budgets = RedisBudgetStore(redis, default_daily_micros=10**12, default_monthly_micros=10**12)
    worker = Worker(
        engine=StartRecorder(url), budgets=budgets, responders={"discord": Silent()}, redis=redis
    )
    queue = SaqJobQueue(connect_redis(url, blocking_commands=True))
    await queue.connect()
    runner = queue.worker(worker, concurrency=8, shutdown_grace_s=2)
    await redis.rpush(READY, "1")
    await runner.start(handle_signals=True)


async def ping_rtt(url: str, n: int = 2000) -> list[float]:
    redis = connect_redis(url)
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await redis.ping()
        out.append(time.perf_counter() - t)
    await redis.aclose()
    return out


async def pairs_per_s(url: str, pairs: int, in_flight: int) -> float:
    redis = connect_redis(url)
    store = RedisBudgetStore(redis, default_daily_micros=10**12, default_monthly_micros=10**12)
    sem = asyncio.Semaphore(in_flight)

    async def one(i: int) -> None:
        async with sem:
            hold = f"{in_flight}-{i}"
            await store.reserve("bench", hold, 100, lease_s=60)
            await store.settle("bench", hold, 90)

    t = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(pairs)))
    rate = pairs / (time.perf_counter() - t)
    await redis.aclose()
    return rate


async def submit_latency(url: str, n: int) -> list[float]:
    redis = connect_redis(url)
    config = load_config()
    queue = SaqJobQueue(connect_redis(url, blocking_commands=True))
    await queue.connect()
    service = FusionService(
        config=config,
        engine=ScriptedEngine([], quote=1_000),
        budgets=RedisBudgetStore(redis, default_daily_micros=10**12, default_monthly_micros=10**12),
        queue=queue,
        limiter=UserRateLimiter.on_redis("1000000/minute", redis),
    )
    out = []
    for i in range(n):
        req = FusionRequest.create("Why is the sky blue?", config.pool(), user=f"U{i % 50}")
        t = time.perf_counter()
        await service.submit(f"submit-{i}", req, QUEUED_ONLY)
        out.append(time.perf_counter() - t)
    await queue.aclose()
    await redis.aclose()
    return out


def spawn_worker(url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - this very script
        [sys.executable, "-m", "bench.bench_budget", "--serve", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_workers(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(30)


async def start_latency(url: str, workers: int, jobs: int) -> list[float]:
    redis = connect_redis(url, blocking_commands=True)
    await redis.delete(READY, STARTED)
    procs = [spawn_worker(url) for _ in range(workers)]
    for _ in range(workers):
        await redis.blpop([READY], timeout=60)
    queue = SaqJobQueue(connect_redis(url, blocking_commands=True))
    await queue.connect()
    config = load_config()
    enqueued: dict[str, float] = {}
    for i in range(jobs):
        req = FusionRequest.create("Why is the sky blue?", config.pool())
        job = FusionJob(key=f"start-{workers}-{i}-{uuid.uuid4().hex[:6]}", request=req,
                        reply=REPLY, quote_micros=1_000)  # fmt: skip
        enqueued[req.request_id] = time.time()
        await queue.enqueue(job)
        await asyncio.sleep(0.01)  # a steady trickle: latency, not backlog
    out = []
    for _ in range(jobs):
        item = await redis.blpop([STARTED], timeout=60)
        assert item is not None
        request_id, started = text(item[1]).split(":")
        out.append(float(started) - enqueued[request_id])
    await asyncio.to_thread(stop_workers, procs)
    await queue.aclose()
    await redis.aclose()
    return out


async def main(pairs: int, jobs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp), persist=False) as server:
        url = server.url
        rows = [("Redis PING round trip, p50 / p99", f"{ms(await ping_rtt(url))} ms")]
        for in_flight in (1, 32):
            rate = await pairs_per_s(url, pairs, in_flight)
            rows.append((f"reserve+settle pairs/s, {in_flight} in flight", f"{rate:,.0f}"))
        submits = await submit_latency(url, 500)
        rows.append(("submit (ack path) p50 / p99", f"{ms(submits)} ms"))
        for workers in (1, 4):
            starts = await start_latency(url, workers, jobs)
            rows.append((f"enqueue → job start, {workers} worker process(es), p50 / p99",
                         f"{ms(starts)} ms"))  # fmt: skip
        rows.append(("Redis PING round trip again, p50 / p99", f"{ms(await ping_rtt(url))} ms"))
    width = max(len(r[0]) for r in rows)
    print(f"| {'measure':<{width}} | value |\n|{'-' * (width + 2)}|-------|")
    for name, value in rows:
        print(f"| {name:<{width}} | {value} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=3000)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--serve", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve))
    else:
        asyncio.run(main(args.pairs, args.jobs))
