"""Real worker processes SIGKILLed mid-job, inside another's recovery, in a storm: every job is
answered once and charged once.

No sleeps: the test waits on Redis lists the workers push to (``BLPOP``), with generous caps.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from saq.job import Status

from bots.embedded_redis import EmbeddedRedis
from fusion_engine.budget.redis_store import RedisBudgetStore
from fusion_engine.jobs.base import FusionJob, ReplyTarget
from fusion_engine.jobs.saq_queue import SaqJobQueue
from fusion_engine.keys import JobKeys
from fusion_engine.redis_guard import connect_redis
from tests.fusion_engine.jobs.fakes import request
from tests.fusion_engine.jobs.storm import kill_storm, start_worker
from tests.fusion_engine.jobs.worker_entry import ANSWERS, PENDING_LEASE_S, REACHED, STAGES
from tests.redis_text import text

REPLY = ReplyTarget(platform="slack", tenant="E1|T1", channel_id="C1")


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@dataclass
class World:
    url: str
    redis: aioredis.Redis
    budgets: RedisBudgetStore
    queue: SaqJobQueue
    procs: list[subprocess.Popen[bytes]]
    logs: Path

    def start(self, name: str, *flags: str) -> subprocess.Popen[bytes]:
        return start_worker(self.procs, self.url, self.logs / f"{name}.log", *flags)

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text()[-3000:]

    async def submit(self, key: str) -> FusionJob:
        job = FusionJob(key=key, request=request(), reply=REPLY, quote_micros=250_000)
        await self.budgets.reserve(REPLY.tenant, job.key, job.quote_micros, lease_s=600)
        assert await self.queue.enqueue(job)
        return job

    async def kill_mid_job(self, name: str) -> None:
        """Start a worker, let it record the panel's spend, SIGKILL it."""
        doomed = self.start(name, "--block")
        assert await self.redis.blpop([REACHED], timeout=60) is not None
        doomed.send_signal(signal.SIGKILL)
        assert doomed.wait() == -signal.SIGKILL

    async def answered_once(self, job: FusionJob, name: str) -> tuple[int, int]:
        """Start worker ``name``; once it answers, stop it gracefully and check the answer was
        the only one and the job is done. Returns the answer's cost and its panel's cost."""
        finisher = self.start(name)
        answer = await self.redis.blpop([ANSWERS], timeout=90)
        assert answer is not None, self.log(name)
        finisher.send_signal(signal.SIGTERM)  # graceful: lets the job finish its bookkeeping
        assert finisher.wait(timeout=30) == 0
        assert await self.redis.llen(ANSWERS) == 0  # exactly one answer
        assert await self.redis.exists(JobKeys(job.key).done)
        assert await self.queue.pending.lease_left_s(job.key) is None  # done: not pending
        key, charged, panel = text(answer[1]).rsplit(":", 2)
        assert key == job.key
        return int(charged), int(panel)


@pytest.fixture
async def world(
    redis_server: EmbeddedRedis, spawn: list[subprocess.Popen[bytes]], tmp_path: Path
) -> AsyncIterator[World]:
    redis = connect_redis(redis_server.url, blocking_commands=True)  # it BLPOPs
    await redis.flushdb()
    budgets = RedisBudgetStore(
        redis, default_daily_micros=5_000_000, default_monthly_micros=50_000_000
    )
    queue = SaqJobQueue(
        connect_redis(redis_server.url), heartbeat_s=2, pending_lease_s=PENDING_LEASE_S
    )
    yield World(redis_server.url, redis, budgets, queue, spawn, tmp_path)
    await queue.aclose()
    await redis.aclose()


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_a_worker_killed_mid_job_is_finished_by_another_once(world: World) -> None:
    job = await world.submit("Ev-crash")
    await world.kill_mid_job("a")
    charged, panel = await world.answered_once(job, "b")
    status = await world.budgets.status(REPLY.tenant)
    assert status.daily_spent_micros == charged + panel  # both attempts' calls, one settle
    assert status.held_micros == 0


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_a_worker_killed_inside_another_ones_recovery_loses_nothing(world: World) -> None:
    """Worker A dies mid-job; worker B's sweep aborts the stuck job (saq then holds it in none
    of its lists) and B dies right there; worker C still answers it, once, charged once."""
    job = await world.submit("Ev-twice")
    await world.kill_mid_job("a")

    b = world.start("b", "--pause", "recovery")
    stage = await world.redis.blpop([STAGES], timeout=60)
    assert stage is not None, world.log("b")
    assert text(stage[1]) == f"{b.pid}:recovery:{job.key}"
    saq = world.queue.queues["slack"]
    stranded = await saq.job(job.key)
    assert stranded is not None
    assert stranded.status == Status.ABORTING
    assert [await saq.count(kind) for kind in ("queued", "active", "incomplete")] == [0, 0, 0]
    b.send_signal(signal.SIGKILL)
    assert b.wait() == -signal.SIGKILL

    charged, panel = await world.answered_once(job, "c")
    status = await world.budgets.status(REPLY.tenant)
    assert status.daily_spent_micros == charged + panel  # A's panel + C's run, once
    assert status.held_micros == 0


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_a_kill_storm_loses_nothing_and_charges_each_job_once(
    redis_server: EmbeddedRedis, tmp_path: Path
) -> None:
    """16 jobs, 6 SIGKILLs mid-panel, mid-writer and inside another worker's recovery, each
    killed worker replaced: every job answered once, charged exactly its recorded spend."""
    report = await kill_storm(redis_server.url, tmp_path, jobs=16, kills=6)
    assert sum(report.kills.values()) == 6, report
    assert report.kills["recovery"] >= 2, report
    assert (report.lost, report.double_answered) == (0, 0), report
    assert set(report.answers.values()) == {1}
    assert len(report.costs) == 16  # every answer a result, none a give-up
    assert (report.double_charged, report.mischarged) == ([], [])
    assert report.pending_left == 0
