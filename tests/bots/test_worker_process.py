"""``fusion worker`` as Procfile runs it: a real process, a real Redis, the fake model server and
the fake Slack. A queued job is answered in Slack and charged once; ``/metrics`` counts it;
SIGTERM exits cleanly; with no platform credentials it says what to set."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import redis
from saq.job import TERMINAL_STATUSES, Status

from bots.embedded_redis import EmbeddedRedis
from fusion_engine.budget.redis_store import RedisBudgetStore
from fusion_engine.config import load_config
from fusion_engine.jobs.base import FusionJob, ReplyTarget
from fusion_engine.jobs.saq_queue import SaqJobQueue
from fusion_engine.keys import JobKeys
from fusion_engine.redis_guard import connect_redis
from fusion_engine.request import FusionRequest
from tests.bots.conftest import price_of_one_run
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


FUSION = [sys.executable, "-c", "from bots.cli import main; main()"]


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own console script
        [*FUSION, "worker", "--grace", "5"],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


@contextmanager
def _running_worker(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A worker for the block; SIGTERM at its end must stop it cleanly (exit 0)."""
    proc = _start_worker(env, log)
    try:
        yield proc
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _env(extra: dict[str, str], tmp_path: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_"))}
    return keep | {"FUSION_DATA_DIR": str(tmp_path / "data"), "FUSION_LOG_LEVEL": "INFO"} | extra


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_worker_process_answers_charges_counts_and_stops_on_sigterm(
    redis_server: EmbeddedRedis,
    fake_slack: FakeSlack,
    cli_env: dict[str, str],
    pool_file: Path,
    tmp_path: Path,
) -> None:
    redis = connect_redis(redis_server.url)
    await redis.flushdb()
    queue = SaqJobQueue(connect_redis(redis_server.url, blocking_commands=True))
    await queue.connect()
    config = load_config(pool_file)
    job = FusionJob(
        key="Ev-worker",
        request=FusionRequest.create("What is 6 x 7?", config.pool(), user="U1"),
        reply=ReplyTarget(platform="slack", tenant="E0|T0001", channel_id="C1", user_id="U1"),
        quote_micros=100_000,
    )
    assert await queue.enqueue(job)
    metrics_port = free_port()
    env = _env(
        cli_env
        | {
            "REDIS_URL": redis_server.url,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_API_URL": fake_slack.api_url,
            "FUSION_METRICS_PORT": str(metrics_port),
        },
        tmp_path,
    )
    log = tmp_path / "worker.log"
    with _running_worker(env, log):
        saq_queue = queue.queues["slack"]
        stored = await saq_queue.job(job.key)
        if stored is None or stored.status not in TERMINAL_STATUSES:
            await saq_queue.listen(
                [job.key], lambda _key, status: status in TERMINAL_STATUSES, timeout=90
            )
        finished = await saq_queue.job(job.key)
        assert finished is not None, log.read_text()[-3000:]
        assert finished.status == Status.COMPLETE, log.read_text()[-3000:]
        assert await redis.exists(JobKeys(job.key).done)
        posted = " ".join(str(c.args) for c in fake_slack.calls)
        assert "42" in posted  # the fused answer reached Slack

        async with httpx.AsyncClient() as http:
            text = (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
        assert 'fusion_fusions_total{outcome="ok"} 1.0' in text
        assert "fusion_spend_micros_total" in text
    status = await RedisBudgetStore(
        redis, default_daily_micros=5_000_000, default_monthly_micros=50_000_000
    ).status("E0|T0001")
    price = await price_of_one_run(cli_env, "What is 6 x 7?")
    assert (status.daily_spent_micros, status.monthly_spent_micros) == (price, price)
    assert status.held_micros == 0
    logged = log.read_text()
    assert '"tenant": "E0|T0001"' in logged  # structured logs carry the tenant and the job
    assert BOT_TOKEN not in logged
    assert "test-key" not in logged
    await queue.aclose()
    await redis.aclose()


def test_worker_without_platform_credentials_says_what_to_set(
    redis_server: EmbeddedRedis, cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = _env(cli_env | {"REDIS_URL": redis_server.url}, tmp_path)
    proc = subprocess.run(  # noqa: S603 - our own console script
        [*FUSION, "worker"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert "SLACK_BOT_TOKEN" in proc.stderr
    assert "DISCORD_TOKEN" in proc.stderr


async def _logged(log: Path, text: str, proc: subprocess.Popen[bytes]) -> None:
    """Wait until the worker's log holds ``text`` (the worker writes it; nothing to await)."""
    while text not in (logged := await asyncio.to_thread(log.read_text)):
        assert proc.poll() is None, logged[-3000:]
        await asyncio.sleep(0.05)


def _add_user(server: EmbeddedRedis) -> None:
    """A password-protected user (ACLs are not persisted, so again after each restart)."""
    client = redis.Redis(host="127.0.0.1", port=server.port)
    client.acl_setuser(
        "fusion",
        enabled=True,
        passwords=["+s3cret"],
        keys=["*"],
        channels=["*"],
        commands=["+@all"],
    )
    client.close()


@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_a_redis_outage_is_one_warning_down_and_one_back_with_the_password_masked(
    own_redis: EmbeddedRedis, fake_slack: FakeSlack, cli_env: dict[str, str], tmp_path: Path
) -> None:
    _add_user(own_redis)
    url = f"redis://fusion:s3cret@127.0.0.1:{own_redis.port}/0"
    env = _env(
        cli_env
        | {"REDIS_URL": url, "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_API_URL": fake_slack.api_url},
        tmp_path,
    )
    log = tmp_path / "worker.log"
    with _running_worker(env, log) as proc:
        async with asyncio.timeout(60):
            await _logged(log, '"worker started"', proc)
            own_redis.stop()
            await _logged(log, "redis unreachable; waiting for it", proc)
            # Long enough for every saq upkeep loop (abort, schedule: 1 s; sweep: 5 s) and the
            # eight dequeue loops to fail several times against the dead server.
            await asyncio.sleep(6)
            own_redis.start()
            _add_user(own_redis)
            await _logged(log, "redis reachable again", proc)
    logged = log.read_text()
    masked = f'"redis": "redis://fusion:***@127.0.0.1:{own_redis.port}/0"'
    down = [line for line in logged.splitlines() if "redis unreachable" in line]
    back = [line for line in logged.splitlines() if "redis reachable again" in line]
    assert len(down) == 1, logged
    assert len(back) == 1, logged
    assert masked in down[0]
    assert masked in back[0]
    assert "Traceback" not in logged
    assert "s3cret" not in logged
