"""How fast does ``/fuse`` get its HTTP 200? The ack p50/p99 over loopback, in-process.

The real path: a signed request to the real aiohttp server, the request gate and bolt's
signature checks, parsing, ``FusionService.submit`` (rate limit, quote, budget reserve on a
real Redis with the Lua scripts, saq enqueue on Redis), the ephemeral JSON ack. The quote comes
from a fixed stand-in (the engine's quote is a cached price lookup); jobs are queued, not run.

Two runs on the same server: quiet, then during a junk flood — a separate process sending
unsigned junk (a non-numeric timestamp, a non-UTF-8 body, a forged 4 KB JSON body) as fast as
it can, so the junk costs the server what it would in production and not the timing client.

    uv run python bench/bench_slack_ack.py [--requests 300] [--junk-senders 2]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import tempfile
import time
import urllib.parse
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event
from pathlib import Path

import httpx
from aiohttp.test_utils import TestServer

from adapters.slack import SlackHandlers, SlackResponder, StaticToken, build_app, web_app
from bots.embedded_redis import EmbeddedRedis
from fusion_engine.budget.redis_store import RedisBudgetStore
from fusion_engine.config import load_config
from fusion_engine.jobs.saq_queue import SaqJobQueue
from fusion_engine.ratelimit import UserRateLimiter
from fusion_engine.redis_guard import connect_redis
from fusion_engine.scripted import ScriptedEngine
from fusion_engine.service import FusionService
from tests.adapters.slack.harness import SIGNING_SECRET, signed_headers
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack

_WARM_UP = 20


def _junk() -> list[tuple[bytes, dict[str, str]]]:
    now = str(int(time.time()))
    forged = ('{"type": "event_callback", "event": {"text": "' + "x" * 4000 + '"}}').encode()
    return [
        (b"command=%2Ffuse", {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=0"}),
        (b"text=\xff\xfe", {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": "v0=0"}),
        (forged, {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": "v0=" + "0" * 64}),
    ]


def send_junk(url: str, flooding: Event, stop: Event, sent: Synchronized[int]) -> None:
    """Runs in its own process: post junk back to back until ``stop``; count what was refused.
    ``flooding`` is set once the flood is under way."""
    shapes = _junk()
    with httpx.Client(base_url=url) as http:
        i = 0
        while not stop.is_set():
            body, headers = shapes[i % len(shapes)]
            response = http.post("/slack/events", content=body, headers=headers)
            assert response.status_code in (400, 401), response.status_code
            with sent.get_lock():
                sent.value += 1
            i += 1
            if i == 50:
                flooding.set()


async def timed_acks(
    http: httpx.AsyncClient, fake: FakeSlack, requests: int, first: int
) -> list[float]:
    timings: list[float] = []
    for i in range(first, first + requests + _WARM_UP):
        form = urllib.parse.urlencode(
            {
                "command": "/fuse",
                "text": f"question number {i}: what's the tradeoff?",
                "user_id": f"U{i}",
                "channel_id": "C1",
                "team_id": f"T{i % 7}",
                "trigger_id": f"trigger-{i}",
                "response_url": fake.response_url(),
            }
        )
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        headers |= signed_headers(form)
        started = time.perf_counter()
        response = await http.post("/slack/events", content=form, headers=headers)
        elapsed = time.perf_counter() - started
        assert "Fusing with" in response.json()["text"], response.text
        if i >= first + _WARM_UP:  # warm-up: first auth.test, connection pools
            timings.append(elapsed)
    return timings


async def measure(requests: int, junk_senders: int) -> list[tuple[str, list[float], int]]:
    """``(run, ack timings, junk requests sent during the run)`` for the quiet and flood runs."""
    runs: list[tuple[str, list[float], int]] = []
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp), persist=False) as server:
        redis = connect_redis(server.url)
        config = load_config()
        queue = SaqJobQueue(connect_redis(server.url))
        await queue.connect()
        async with FakeSlack() as fake:
            service = FusionService(
                config=config,
                engine=ScriptedEngine([], quote=12_345),
                budgets=RedisBudgetStore.from_defaults(redis, config.budgets),
                queue=queue,
                limiter=UserRateLimiter.on_redis(config.budgets.user_rate_limit, redis),
            )
            responder = SlackResponder(StaticToken(BOT_TOKEN), redis, api_url=fake.api_url)
            handlers = SlackHandlers(
                service=service, config=config, redis=redis, responder=responder
            )
            app = build_app(
                handlers, signing_secret=SIGNING_SECRET, api_url=fake.api_url, bot_token=BOT_TOKEN
            )
            site = TestServer(web_app(app), host="127.0.0.1")
            await site.start_server()
            url = str(site.make_url(""))
            async with httpx.AsyncClient(base_url=url) as http:
                runs.append(("quiet", await timed_acks(http, fake, requests, 0), 0))
                ctx = multiprocessing.get_context("spawn")
                flooding, stop = ctx.Event(), ctx.Event()
                sent = ctx.Value("q", 0)
                senders = [
                    ctx.Process(target=send_junk, args=(url, flooding, stop, sent))
                    for _ in range(junk_senders)
                ]
                for sender in senders:
                    sender.start()
                await asyncio.to_thread(flooding.wait, 60)  # on before the first timed request
                before = sent.value
                timings = await timed_acks(http, fake, requests, 100_000)
                runs.append(("junk flood", timings, sent.value - before))
                stop.set()
                for sender in senders:  # joined off the loop: it still serves their last request
                    await asyncio.to_thread(sender.join)
                assert all(sender.exitcode == 0 for sender in senders)
            await site.close()
        await queue.aclose()
        await redis.aclose()
    return runs


def _percentiles(timings: list[float]) -> tuple[float, float]:
    ordered = sorted(timings)
    return statistics.median(ordered) * 1000, ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--junk-senders", type=int, default=2)
    args = parser.parse_args()
    runs = asyncio.run(measure(args.requests, args.junk_senders))
    print("| run | /fuse acks | p50 | p99 | junk refused meanwhile |")
    print("|---|---:|---:|---:|---:|")
    for name, timings, junk in runs:
        p50, p99 = _percentiles(timings)
        print(f"| {name} | {len(timings)} | {p50:.1f} ms | {p99:.1f} ms | {junk:,} |")


if __name__ == "__main__":
    main()
