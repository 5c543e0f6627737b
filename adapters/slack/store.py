"""``SlackStore``: the only code that touches the Slack adapter's Redis keys.

The key names and TTLs are in ``adapters.slack.keys``. Every call goes through
``redis_unavailable``, as in the core and in ``DiscordStore``: with Redis down a listener
answers the ``UnavailableError`` it tells users about, and a worker's delivery fails with the
same error as its ledger (the queue then retries the job), never with a raw connection error.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from adapters.slack.keys import MESSAGE_TTL_S, SEEN_TTL_S, message_key, result_key, seen_key
from fusion_engine.jobs.base import FusionJob
from fusion_engine.redis_guard import redis_unavailable
from fusion_engine.result import FusionResult

__all__ = ["SlackStore"]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class SlackStore:
    """Thin, typed access to the adapter's Redis keys."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis

    async def message_state(self, job_key: str) -> dict[str, str]:
        """The job's message hash (see ``message_key``); empty before its first post."""
        with redis_unavailable():
            raw = await self._redis.hgetall(message_key(job_key))
        return {_text(k): _text(v) for k, v in raw.items()}

    async def update_message_state(self, job_key: str, values: dict[str, str]) -> None:
        key = message_key(job_key)
        with redis_unavailable():
            await self._redis.hset(key, mapping=dict(values))  # type: ignore[arg-type]
            await self._redis.expire(key, MESSAGE_TTL_S)

    async def job(self, job_key: str) -> FusionJob | None:
        """The job behind a posted answer (for Re-run), while its state is kept."""
        with redis_unavailable():
            raw = await self._redis.hget(message_key(job_key), "job")
        return None if raw is None else FusionJob.model_validate_json(raw)

    async def save_result(self, job_key: str, result: FusionResult) -> None:
        with redis_unavailable():
            await self._redis.set(result_key(job_key), result.model_dump_json(), ex=MESSAGE_TTL_S)

    async def result(self, job_key: str) -> FusionResult | None:
        """A finished job's result (for Show the analysis), while it is kept."""
        with redis_unavailable():
            raw = await self._redis.get(result_key(job_key))
        return None if raw is None else FusionResult.model_validate_json(raw)

    async def first_delivery(self, event_id: str) -> bool:
        """True for the first delivery of an Events API ``event_id``; False for a retry."""
        with redis_unavailable():
            return bool(await self._redis.set(seen_key(event_id), "1", nx=True, ex=SEEN_TTL_S))
