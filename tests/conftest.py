"""Shared fixtures: a real Redis server on loopback, started by the test run itself."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
import structlog

from bots.embedded_redis import EmbeddedRedis


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """One real redis-server for the whole session (per xdist worker)."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), persist=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def redis_client(redis_server: EmbeddedRedis) -> AsyncIterator[aioredis.Redis]:
    """A client on a freshly flushed database."""
    client = aioredis.Redis.from_url(redis_server.url)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A private, persisting redis-server a test may stop, kill and restart."""
    server = EmbeddedRedis(tmp_path / "redis", persist=True)
    server.start()
    yield server
    server.kill()


@pytest.fixture(autouse=True)
def _restore_gc() -> Iterator[None]:
    """Serving commands tune the garbage collector for the whole process
    (``bots.wiring.tune_gc_for_serving``); undo it so no test changes the next one's process."""
    thresholds = gc.get_threshold()
    yield
    gc.set_threshold(*thresholds)
    gc.unfreeze()


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Serving commands configure logging for the whole process (``configure_logging``), on
    the stream of the moment, which is a test runner's captured stderr; undo it so no later
    test logs into a stream that is gone."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()
