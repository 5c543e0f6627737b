"""What the Discord adapter keeps in Redis: every key name and TTL lives here.

- ``result:{job}`` — the finished ``FusionResult`` as JSON, so the per-model buttons keep working
  after a restart (persistent views carry only ``job key + model index`` in their custom_id).
- ``posted:{job}`` — which messages a job already posted (main, overflow parts, thread, thread
  parts), so a re-run after a crash edits instead of posting again.
- ``conv:{thread}`` — the conversation held by an answer's thread, for follow-up mentions.
- ``dm-limits:{user}`` — set once when a user's DM budget got its DM default limits.

Every call goes through ``redis_unavailable``: with Redis down the bot's handlers get the
``UnavailableError`` they tell users about, not a raw connection error they would not catch.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, TypeAdapter

from fusion_engine.redis_guard import redis_unavailable
from fusion_engine.request import ConversationTurn
from fusion_engine.result import FusionResult

__all__ = ["RESULT_TTL_S", "DiscordStore", "Posted"]

PREFIX = "fusion:discord:"
RESULT_TTL_S = 30 * 24 * 3600
"""How long per-model buttons and thread conversations keep working."""
POSTED_TTL_S = 2 * 24 * 3600

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
            await self._redis.set(
                PREFIX + "result:" + job_key, result.model_dump_json(), ex=RESULT_TTL_S
            )

    async def load_result(self, job_key: str) -> FusionResult | None:
        with redis_unavailable():
            raw = await self._redis.get(PREFIX + "result:" + job_key)
        return None if raw is None else FusionResult.model_validate_json(raw)

    async def posted(self, job_key: str) -> Posted:
        with redis_unavailable():
            raw = await self._redis.get(PREFIX + "posted:" + job_key)
        return Posted() if raw is None else Posted.model_validate_json(raw)

    async def save_posted(self, job_key: str, posted: Posted) -> None:
        with redis_unavailable():
            await self._redis.set(
                PREFIX + "posted:" + job_key, posted.model_dump_json(), ex=POSTED_TTL_S
            )

    async def save_conversation(self, thread_id: str, turns: tuple[ConversationTurn, ...]) -> None:
        with redis_unavailable():
            await self._redis.set(
                PREFIX + "conv:" + thread_id, _TURNS.dump_json(turns), ex=RESULT_TTL_S
            )

    async def conversation(self, thread_id: str) -> tuple[ConversationTurn, ...] | None:
        with redis_unavailable():
            raw = await self._redis.get(PREFIX + "conv:" + thread_id)
        return None if raw is None else _TURNS.validate_json(raw)

    async def claim_dm_limits(self, user_id: str) -> bool:
        """True exactly once per user: the caller then sets that user's DM default limits."""
        with redis_unavailable():
            created: Any = await self._redis.set(PREFIX + "dm-limits:" + user_id, "1", nx=True)
        return bool(created)

    async def forget_dm_limits(self, user_id: str) -> None:
        with redis_unavailable():
            await self._redis.delete(PREFIX + "dm-limits:" + user_id)
