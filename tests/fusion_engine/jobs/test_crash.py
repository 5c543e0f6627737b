"""Real worker processes: one is SIGKILLed mid-job, another finishes it — one answer, one charge.

No sleeps: the test waits on Redis lists the workers push to (``BLPOP``), with generous caps.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
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

REPLY = ReplyTarget(platform="slack", tenant="E1|T1", channel_id="C1")


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_a_worker_killed_mid_job_is_finished_by_another_once(
    redis_server: EmbeddedRedis, spawn: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    redis = connect_redis(redis_server.url, blocking_commands=True)  # it BLPOPs
    await redis.flushdb()
    budgets = RedisBudgetStore(
        redis, default_daily_micros=5_000_000, default_monthly_micros=50_000_000
    )
    queue = SaqJobQueue(
        connect_redis(redis_server.url, blocking_commands=True),
        heartbeat_s=2,
        pending_lease_s=PENDING_LEASE_S,
    )
    job = FusionJob(key="Ev-crash", request=request(), reply=REPLY, quote_micros=250_000)
    await budgets.reserve(REPLY.tenant, job.key, job.quote_micros, lease_s=600)
    assert await queue.enqueue(job)

    doomed = start_worker(spawn, redis_server.url, tmp_path / "a.log", "--block")
    assert await redis.blpop([REACHED], timeout=60) is not None  # type: ignore[misc]
    doomed.send_signal(signal.SIGKILL)
    assert doomed.wait() == -signal.SIGKILL

    rescuer = start_worker(spawn, redis_server.url, tmp_path / "b.log")
    answer = await redis.blpop([ANSWERS], timeout=90)  # type: ignore[misc]
    assert answer is not None, (tmp_path / "b.log").read_text()[-3000:]

    rescuer.send_signal(signal.SIGTERM)  # graceful: lets the job finish its bookkeeping
    assert rescuer.wait(timeout=30) == 0
    assert await redis.exists(JobKeys(job.key).done)
    assert await redis.llen(ANSWERS) == 0  # type: ignore[misc]  # exactly one answer

    _, charged, panel = answer[1].decode().rsplit(":", 2)
    status = await budgets.status(REPLY.tenant)
    assert status.daily_spent_micros == int(charged) + int(
        panel
    )  # both attempts' calls, one settle
    assert status.held_micros == 0
    await queue.aclose()
    await redis.aclose()


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_a_worker_killed_inside_another_ones_recovery_loses_nothing(
    redis_server: EmbeddedRedis, spawn: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    """Worker A dies mid-job; worker B's sweep aborts the stuck job (saq then holds it in none
    of its lists) and B dies right there; worker C still answers it, once, charged once."""
    redis = connect_redis(redis_server.url, blocking_commands=True)
    await redis.flushdb()
    budgets = RedisBudgetStore(
        redis, default_daily_micros=5_000_000, default_monthly_micros=50_000_000
    )
    queue = SaqJobQueue(
        connect_redis(redis_server.url, blocking_commands=True),
        heartbeat_s=2,
        pending_lease_s=PENDING_LEASE_S,
    )
    job = FusionJob(key="Ev-twice", request=request(), reply=REPLY, quote_micros=250_000)
    await budgets.reserve(REPLY.tenant, job.key, job.quote_micros, lease_s=600)
    assert await queue.enqueue(job)

    a = start_worker(spawn, redis_server.url, tmp_path / "a.log", "--block")
    assert await redis.blpop([REACHED], timeout=60) is not None  # type: ignore[misc]
    a.send_signal(signal.SIGKILL)
    assert a.wait() == -signal.SIGKILL

    b = start_worker(spawn, redis_server.url, tmp_path / "b.log", "--pause", "recovery")
    stage = await redis.blpop([STAGES], timeout=60)  # type: ignore[misc]
    assert stage is not None, (tmp_path / "b.log").read_text()[-3000:]
    assert stage[1].decode() == f"{b.pid}:recovery:{job.key}"
    saq = queue.queues["slack"]
    stranded = await saq.job(job.key)
    assert stranded is not None
    assert stranded.status == Status.ABORTING
    assert [await saq.count(kind) for kind in ("queued", "active", "incomplete")] == [0, 0, 0]
    b.send_signal(signal.SIGKILL)
    assert b.wait() == -signal.SIGKILL

    c = start_worker(spawn, redis_server.url, tmp_path / "c.log")
    answer = await redis.blpop([ANSWERS], timeout=60)  # type: ignore[misc]
    assert answer is not None, (tmp_path / "c.log").read_text()[-3000:]
    c.send_signal(signal.SIGTERM)
    assert c.wait(timeout=30) == 0
    assert await redis.llen(ANSWERS) == 0  # type: ignore[misc]  # exactly one answer
    assert await redis.exists(JobKeys(job.key).done)
    assert await queue.pending.lease_left_s(job.key) is None  # done, so no longer pending

    key, charged, panel = answer[1].decode().rsplit(":", 2)
    assert key == job.key
    status = await budgets.status(REPLY.tenant)
    assert status.daily_spent_micros == int(charged) + int(panel)  # A's panel + C's run, once
    assert status.held_micros == 0
    await queue.aclose()
    await redis.aclose()


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
