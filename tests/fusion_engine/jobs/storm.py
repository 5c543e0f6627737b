"""A kill storm: real worker processes answer N jobs while K of them are SIGKILLed.

Workers (``worker_entry``) pause at three stages — mid-panel, mid-writer, and inside a
recovery (their sweep has just aborted a dead worker's job) — and wait for a word; the storm
answers each pause with either that word or a SIGKILL, following a plan of stages, and starts
a replacement for every worker it kills. Then it checks every job: answered exactly once,
charged exactly what its attempts recorded (once), no hold left, nothing left pending.

Used by ``test_crash.py`` (asserts) and ``bench/bench_kill_storm.py`` (prints).
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import redis.asyncio as aioredis

from fusion_engine.budget.redis_store import RedisBudgetStore
from fusion_engine.jobs.base import FusionJob, ReplyTarget
from fusion_engine.jobs.saq_queue import SaqJobQueue
from fusion_engine.keys import PENDING_JOBS, BudgetKeys, JobKeys
from fusion_engine.redis_guard import connect_redis
from tests.fusion_engine.jobs.fakes import request
from tests.fusion_engine.jobs.worker_entry import ANSWERS, PENDING_LEASE_S, STAGES, go
from tests.redis_text import text

ROOT = Path(__file__).resolve().parents[3]
PLAN = ("panel", "writer", "recovery")
QUOTE = 250_000
ANY_STAGE_AFTER_S = 8.0
"""If the planned stage does not come up for this long, the next pause of any stage is killed."""


def start_worker(
    procs: list[subprocess.Popen[bytes]], url: str, log: Path, *flags: str
) -> subprocess.Popen[bytes]:
    """One ``worker_entry`` process, its output in ``log``, remembered in ``procs``."""
    proc = subprocess.Popen(  # noqa: S603 - our own test entry point
        [sys.executable, "-m", "tests.fusion_engine.jobs.worker_entry", url, *flags],
        cwd=ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    procs.append(proc)
    return proc


@dataclass
class StormReport:
    jobs: int
    kills: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    double_charged: list[str] = field(default_factory=list)
    """Jobs whose tenant was charged more than the job's attempts recorded."""
    mischarged: list[str] = field(default_factory=list)
    """Jobs charged anything but exactly their recorded spend, or with a hold left."""
    pending_left: int = 0
    seconds: float = 0.0
    costs: dict[str, int] = field(default_factory=dict)
    """What each answer said the fusion cost (absent for an error answer)."""

    def record(self, answer: str) -> None:
        """Count one ``worker_entry`` answer: ``key:cost:panel`` or ``key:error``."""
        key, _, rest = answer.partition(":")
        self.answers[key] += 1
        if rest != "error":
            self.costs[key] = int(rest.split(":", 1)[0])

    @property
    def answered(self) -> int:
        return len(self.answers)

    @property
    def lost(self) -> int:
        return self.jobs - self.answered

    @property
    def double_answered(self) -> int:
        return sum(1 for n in self.answers.values() if n > 1)


async def kill_storm(
    url: str,
    logs: Path,
    *,
    jobs: int = 16,
    kills: int = 6,
    workers: int = 2,
    concurrency: int = 2,
    delay_s: float = 0.25,
    plan: Sequence[str] = PLAN,
    deadline_s: float = 60.0,
) -> StormReport:
    """Run the storm against the (empty) Redis at ``url``; worker logs go to ``logs``."""
    started = time.monotonic()
    redis = connect_redis(url, blocking_commands=True)
    await redis.flushdb()
    budgets = RedisBudgetStore(
        redis, default_daily_micros=5_000_000, default_monthly_micros=50_000_000
    )
    queue = SaqJobQueue(
        connect_redis(url), heartbeat_s=2, retry_delay_s=0.0, pending_lease_s=PENDING_LEASE_S
    )
    report = StormReport(jobs=jobs)
    tenants = {f"Ev-storm-{i}": f"T{i}" for i in range(jobs)}
    for key, tenant in tenants.items():
        job = FusionJob(
            key=key,
            request=request(),
            reply=ReplyTarget(platform="slack", tenant=tenant),
            quote_micros=QUOTE,
        )
        await budgets.reserve(tenant, key, QUOTE, lease_s=600)
        assert await queue.enqueue(job)

    flags = ["--delay", str(delay_s), "--concurrency", str(concurrency)]
    for stage in ("panel", "writer", "recovery"):
        flags += ["--pause", stage]
    procs: list[subprocess.Popen[bytes]] = []
    alive: dict[int, subprocess.Popen[bytes]] = {}

    def spawn() -> None:
        proc = start_worker(procs, url, logs / f"worker-{len(procs)}.log", *flags)
        alive[proc.pid] = proc

    try:
        for _ in range(workers):
            spawn()
        targets = list(itertools.islice(itertools.cycle(plan), kills))
        last_kill = time.monotonic()
        while report.answered < jobs and time.monotonic() - started < deadline_s:
            popped = await redis.blpop([ANSWERS, STAGES], timeout=1)
            if popped is None:
                continue
            name, value = (text(part) for part in popped)
            if name == ANSWERS:
                report.record(value)
                continue
            pid_text, stage, _ = value.split(":", 2)
            pid = int(pid_text)
            done = sum(report.kills.values())
            wanted = targets[done] if done < kills else None
            late = time.monotonic() - last_kill > ANY_STAGE_AFTER_S
            if pid in alive and wanted is not None and (stage == wanted or late):
                victim = alive.pop(pid)
                victim.kill()
                victim.wait()
                report.kills[stage] += 1
                last_kill = time.monotonic()
                spawn()
            else:
                await redis.rpush(go(pid), "1")
        for proc in alive.values():
            proc.terminate()
        for proc in alive.values():
            proc.wait(timeout=30)
        for left in await redis.lrange(ANSWERS, 0, -1):
            report.record(text(left))
        report.seconds = time.monotonic() - started
        await _audit(redis, budgets, tenants, report)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        await queue.aclose()
        await redis.aclose()
    return report


async def _audit(
    redis: aioredis.Redis, budgets: RedisBudgetStore, tenants: dict[str, str], report: StormReport
) -> None:
    """Each tenant has one job: its spend must be exactly what that job's attempts recorded,
    the answering attempt's record being the answer's own cost."""
    for key, tenant in tenants.items():
        recorded = [int(v) for v in await redis.hvals(JobKeys(key).attempts)]
        settled = await redis.get(BudgetKeys(tenant).settled(key))
        status = await budgets.status(tenant)
        if status.daily_spent_micros > sum(recorded):
            report.double_charged.append(key)
        if (
            settled is None
            or int(settled) != sum(recorded)
            or status.daily_spent_micros != sum(recorded)
            or status.held_micros != 0
            or (key in report.costs and report.costs[key] not in recorded)
        ):
            report.mischarged.append(key)
    report.pending_left = await redis.zcard(PENDING_JOBS)
