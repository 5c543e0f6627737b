"""``DiscordStore``: the only code that touches the Discord adapter's Redis keys.

The key names and TTLs are in ``adapters.discord.keys``. Every call goes through
``redis_unavailable``: with Redis down the bot's handlers get the ``UnavailableError`` they tell
users about, not a raw connection error they would not catch.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, TypeAdapter

from adapters.discord.keys import (
    POSTED_TTL_S,
    RESULT_TTL_S,
    conversation_key,
    dm_limits_key,
    posted_key,
    result_key,
)
from fusion_engine.redis_guard import redis_unavailable
from fusion_engine.request import ConversationTurn
from fusion_engine.result import FusionResult

__all__ = ["DiscordStore", "Posted"]

_TURNS = TypeAdapter(tuple[ConversationTurn, ...])


class Posted(BaseModel):
    """Messages already posted for one job (ids as strings)."""

    model_config = ConfigDict(frozen=True)

    main_id: str | None = None
    main_channel: str | None = None
    """Channel of the main message when it was posted with the bot token (not the webhook)."""
    parts: tuple[str, ...] = ()
    thread_id: str | None = None
    thread_parts: int = 0
    thread_note: str | None = None
    done: bool = False


class DiscordStore:
    """Thin, typed access to the adapter's Redis keys."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis

    async def save_result(self, job_key: str, result: FusionResult) -> None:
        with redis_unavailable():
            await self._redis.set(result_key(job_key), result.model_dump_json(), ex=RESULT_TTL_S)

    async def load_result(self, job_key: str) -> FusionResult | None:
        with redis_unavailable():
            raw = await self._redis.get(result_key(job_key))
        return None if raw is None else FusionResult.model_validate_json(raw)

    async def posted(self, job_key: str) -> Posted:
        with redis_unavailable():
            raw = await self._redis.get(posted_key(job_key))
        return Posted() if raw is None else Posted.model_validate_json(raw)

    async def save_posted(self, job_key: str, posted: Posted) -> None:
        with redis_unavailable():
            await self._redis.set(posted_key(job_key), posted.model_dump_json(), ex=POSTED_TTL_S)

    async def save_conversation(self, thread_id: str, turns: tuple[ConversationTurn, ...]) -> None:
        with redis_unavailable():
            await self._redis.set(
                conversation_key(thread_id), _TURNS.dump_json(turns), ex=RESULT_TTL_S
            )

    async def conversation(self, thread_id: str) -> tuple[ConversationTurn, ...] | None:
        with redis_unavailable():
            raw = await self._redis.get(conversation_key(thread_id))
        return None if raw is None else _TURNS.validate_json(raw)

    async def claim_dm_limits(self, user_id: str) -> bool:
        """True exactly once per user: the caller then sets that user's DM default limits."""
        with redis_unavailable():
            created: Any = await self._redis.set(dm_limits_key(user_id), "1", nx=True)
        return bool(created)

    async def forget_dm_limits(self, user_id: str) -> None:
        with redis_unavailable():
            await self._redis.delete(dm_limits_key(user_id))
