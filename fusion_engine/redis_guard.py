"""Turn "Redis is unreachable" into the one error users see: ``UnavailableError``.

Why a guard and not a retry: the ack path must answer in under three seconds, so when Redis is
down the honest move is to refuse at once, charge nothing, and let the next request find Redis
back. Only connection-level failures are translated; a script error is a bug and propagates.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.connection import SSLConnection, UnixDomainSocketConnection
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from fusion_engine.errors import UnavailableError

__all__ = [
    "REDIS_DOWN",
    "UNAVAILABLE_MESSAGE",
    "connect_redis",
    "redis_address",
    "redis_unavailable",
]

UNAVAILABLE_MESSAGE = (
    "Fusion is temporarily unavailable; nothing was charged. Try again in a minute."
)

REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, ConnectionError)
"""What a client raises when the server is unreachable (not a script or command error)."""


@contextmanager
def redis_unavailable() -> Iterator[None]:
    """Re-raise Redis connection failures as ``UnavailableError`` (the cause is kept)."""
    try:
        yield
    except REDIS_DOWN as exc:
        raise UnavailableError(UNAVAILABLE_MESSAGE) from exc


def connect_redis(
    url: str,
    *,
    max_connections: int = 64,
    timeout_s: float = 2.0,
    blocking_commands: bool = False,
) -> aioredis.Redis:
    """A client whose pool waits for a free connection instead of failing under bursts.

    Short socket timeouts make a dead server fail fast (the ack path has 3 s in all); health
    checks drop connections that died while the server restarted, so recovery needs nothing.
    ``blocking_commands`` lifts the read timeout for clients that block on purpose (a queue's
    ``BLMOVE``, pub/sub listeners), which would otherwise time out while idle.
    """
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        socket_timeout=None if blocking_commands else timeout_s * 5,
        health_check_interval=15,
        # One quick retry on a fresh connection: after a Redis restart, pooled connections are
        # dead and the first command on each would otherwise fail. Every Fusion write is
        # idempotent (holds, settles and markers are keyed), so a retried command is safe.
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), retries=1),
        retry_on_error=[redis.exceptions.ConnectionError],
    )
    return aioredis.Redis.from_pool(pool)


def redis_address(redis: aioredis.Redis) -> str:
    """Where ``redis`` connects, as a URL with the password masked: safe for logs and errors
    (an operator needs to know which server is down; nobody needs its password)."""
    pool = redis.connection_pool
    kw = pool.connection_kwargs
    user = kw.get("username") or ""
    auth = f"{user}:***@" if kw.get("password") else (f"{user}@" if user else "")
    db = kw.get("db", 0)
    if issubclass(pool.connection_class, UnixDomainSocketConnection):
        return f"unix://{auth}{kw.get('path', '')}?db={db}"
    scheme = "rediss" if issubclass(pool.connection_class, SSLConnection) else "redis"
    return f"{scheme}://{auth}{kw.get('host', 'localhost')}:{kw.get('port', 6379)}/{db}"
