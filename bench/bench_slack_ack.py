"""How fast does ``/fuse`` get its HTTP 200? The ack p50/p99 over loopback, in-process.

The real path: a signed request to the real aiohttp server, bolt's signature check, parsing,
``FusionService.submit`` (rate limit, quote, budget reserve on a real Redis with the Lua
scripts, saq enqueue on Redis), the ephemeral JSON ack. The quote comes from a fixed stand-in
(the engine's quote is a cached price lookup); jobs are queued, not run.

    uv run python bench/bench_slack_ack.py [--requests 300]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import urllib.parse
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
from fusion_engine.request import FusionRequest
from fusion_engine.result import Quote
from fusion_engine.service import FusionService
from tests.adapters.slack.harness import SIGNING_SECRET, signed_headers
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack


class FixedQuote:
    async def quote(self, request: FusionRequest) -> Quote:
        return Quote(micros=12_345)


async def measure(requests: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp), persist=False) as server:
        redis = connect_redis(server.url)
        config = load_config()
        queue = SaqJobQueue(connect_redis(server.url))
        await queue.connect()
        async with FakeSlack() as fake:
            service = FusionService(
                config=config,
                engine=FixedQuote(),
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
            timings: list[float] = []
            async with httpx.AsyncClient(base_url=str(site.make_url(""))) as http:
                for i in range(requests + 20):
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
                    if i >= 20:  # warm-up: first auth.test, connection pools
                        timings.append(elapsed)
            await site.close()
        await queue.aclose()
        await redis.aclose()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    timings = sorted(asyncio.run(measure(args.requests)))
    p50 = statistics.median(timings) * 1000
    p99 = timings[max(0, int(len(timings) * 0.99) - 1)] * 1000
    print(f"/fuse ack over loopback, {len(timings)} requests: p50 {p50:.1f} ms, p99 {p99:.1f} ms")


if __name__ == "__main__":
    main()
