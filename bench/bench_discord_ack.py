"""How fast does ``/fuse`` on Discord show "thinking", and how fast is the job queued?

The real path over loopback: the fake gateway sends ``INTERACTION_CREATE`` to the real
discord.py client; the bot defers (the interaction callback reaches the fake REST API — the
number Discord's 3-second rule is about), then ``FusionService.submit`` rate-limits, quotes
(a fixed stand-in), reserves on a real Redis with the Lua scripts and enqueues on saq. Jobs are
queued, not run.

    uv run python bench/bench_discord_ack.py [--requests 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from adapters.common import Accepted
from adapters.discord import DiscordStore, FusionBot, Intake, point_at
from bots.embedded_redis import EmbeddedRedis
from fusion_engine.budget.base import BudgetStatus
from fusion_engine.budget.redis_store import RedisBudgetStore
from fusion_engine.config import load_config
from fusion_engine.jobs.base import ReplyTarget
from fusion_engine.jobs.saq_queue import SaqJobQueue
from fusion_engine.ratelimit import UserRateLimiter
from fusion_engine.redis_guard import connect_redis
from fusion_engine.request import FusionRequest
from fusion_engine.scripted import ScriptedEngine
from fusion_engine.service import FusionService
from tests.adapters.discord.conftest import question
from tests.fakes.discord_api import FakeDiscord


class Timed:
    """The service, noting when each submit finished (an ``adapters.common.FusionService``)."""

    def __init__(self, service: FusionService) -> None:
        self.service = service
        self.done: dict[str, float] = {}
        self.changed = asyncio.Condition()

    async def submit(self, key: str, request: FusionRequest, reply: ReplyTarget) -> Accepted:
        accepted = await self.service.submit(key, request, reply)
        async with self.changed:
            self.done[key] = time.perf_counter()
            self.changed.notify_all()
        return accepted

    async def budget(self, tenant: str) -> BudgetStatus:
        return await self.service.budget(tenant)

    async def set_limits(
        self, tenant: str, *, daily_usd: float, monthly_usd: float
    ) -> BudgetStatus:
        return await self.service.set_limits(tenant, daily_usd=daily_usd, monthly_usd=monthly_usd)

    async def wait_done(self, key: str) -> float:
        """When the submit of ``key`` finished (``perf_counter``)."""
        async with self.changed:
            await self.changed.wait_for(lambda: key in self.done)
        return self.done[key]


async def measure(requests: int) -> tuple[list[float], list[float]]:
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp), persist=False) as server:
        redis = connect_redis(server.url)
        config = load_config()
        queue = SaqJobQueue(connect_redis(server.url))
        await queue.connect()
        service = Timed(
            FusionService(
                config=config,
                engine=ScriptedEngine([], quote=12_345),
                budgets=RedisBudgetStore.from_defaults(redis, config.budgets),
                queue=queue,
                limiter=UserRateLimiter.on_redis("100000/minute", redis),
            )
        )
        defer_ms: list[float] = []
        queued_ms: list[float] = []
        async with FakeDiscord() as fake:
            point_at(fake.api_url, fake.gateway_url)
            bot = FusionBot(Intake(service, config, DiscordStore(redis)), guild_ready_timeout=0.05)
            await bot.login("bench-token")
            task = asyncio.create_task(bot.connect(reconnect=False))
            await bot.wait_until_ready()
            for i in range(requests):
                event = fake.slash_command("fuse", question(f"question {i}"))
                key = f"discord:{event['id']}"
                start = time.perf_counter()
                await fake.dispatch("INTERACTION_CREATE", event)
                callback = rf"/interactions/{event['id']}/[^/]+/callback"
                await fake.wait_for_call("POST", callback)
                defer_ms.append((time.perf_counter() - start) * 1000)
                queued_ms.append((await service.wait_done(key) - start) * 1000)
            await bot.close()
            await task
        await queue.aclose()
        await redis.aclose()
    return defer_ms, queued_ms


def _summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return f"{name}: p50 {statistics.median(ordered):.1f} ms, p99 {p99:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    defer_ms, queued_ms = asyncio.run(measure(args.requests))
    print(f"{args.requests} /fuse interactions over loopback")
    print(_summary("deferred ('thinking' shown)", defer_ms))
    print(_summary("job reserved and queued    ", queued_ms))


if __name__ == "__main__":
    main()
