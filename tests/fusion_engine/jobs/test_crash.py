"""Real worker processes: one is SIGKILLed mid-job, another finishes it — one answer, one charge.

No sleeps: the test waits on Redis lists the workers push to (``BLPOP``), with generous caps.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bots.embedded_redis import EmbeddedRedis
from fusion_engine.budget.redis_store import RedisBudgetStore
from fusion_engine.jobs.base import FusionJob, ReplyTarget
from fusion_engine.jobs.saq_queue import SaqJobQueue
from fusion_engine.keys import JobKeys
from fusion_engine.redis_guard import connect_redis
from tests.fusion_engine.jobs.fakes import request
from tests.fusion_engine.jobs.worker_entry import ANSWERS, REACHED

ROOT = Path(__file__).resolve().parents[3]
REPLY = ReplyTarget(platform="slack", tenant="E1|T1", channel_id="C1")


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def start_worker(
    procs: list[subprocess.Popen[bytes]], url: str, log: Path, *, block: bool
) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "tests.fusion_engine.jobs.worker_entry", url]
    proc = subprocess.Popen(  # noqa: S603 - our own test entry point
        [*args, "--block"] if block else args,
        cwd=ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    procs.append(proc)
    return proc


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
    queue = SaqJobQueue(connect_redis(redis_server.url, blocking_commands=True))
    job = FusionJob(key="Ev-crash", request=request(), reply=REPLY, quote_micros=250_000)
    await budgets.reserve(REPLY.tenant, job.key, job.quote_micros, lease_s=600)
    assert await queue.enqueue(job)

    doomed = start_worker(spawn, redis_server.url, tmp_path / "a.log", block=True)
    assert await redis.blpop([REACHED], timeout=60) is not None  # type: ignore[misc]
    doomed.send_signal(signal.SIGKILL)
    assert doomed.wait() == -signal.SIGKILL

    rescuer = start_worker(spawn, redis_server.url, tmp_path / "b.log", block=False)
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
