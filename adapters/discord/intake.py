"""Turn a Discord question (slash command or mention) into a submitted fusion job.

Budgets belong to the guild (tenant = guild id); in DMs to the user (tenant ``dm:<user id>``),
who starts with the DM limits from ``FusionConfig.budgets`` (``0`` disables DMs). The budget
store only knows one default for new tenants, so the first DM question of a user sets that
user's DM limits once (guarded by a Redis flag) before submitting.
"""

from __future__ import annotations

from adapters.common import Accepted, FusionService
from adapters.discord.store import DiscordStore
from fusion_engine.config import FusionConfig
from fusion_engine.errors import RefusedError
from fusion_engine.jobs.base import ReplyTarget
from fusion_engine.request import ConversationTurn, FusionRequest

__all__ = ["Intake", "tenant_for"]


def tenant_for(guild_id: int | None, user_id: int) -> str:
    return str(guild_id) if guild_id is not None else f"dm:{user_id}"


class Intake:
    """Validates, resolves the pool, applies DM limits, and submits. Raises the service's
    refusals (``InputError``, ``RefusedError``, ``UnavailableError``) for the caller to show."""

    def __init__(self, service: FusionService, config: FusionConfig, store: DiscordStore) -> None:
        self.service = service
        self.config = config
        self.store = store

    async def submit(
        self,
        key: str,
        question: str,
        *,
        pool: str | None,
        user_id: int,
        guild_id: int | None,
        channel_id: int,
        history: tuple[ConversationTurn, ...] = (),
        thread_id: int | None = None,
        message_id: int | None = None,
        interaction_id: int | None = None,
        interaction_token: str | None = None,
        application_id: int | None = None,
    ) -> Accepted:
        tenant = tenant_for(guild_id, user_id)
        request = FusionRequest.create(
            question, self.config.pool(pool), history=history, tenant=tenant, user=str(user_id)
        )
        if guild_id is None:
            await self._dm_limits(user_id, tenant)
        extra = {"interaction_id": str(interaction_id)} if interaction_id is not None else {}
        reply = ReplyTarget(
            platform="discord",
            tenant=tenant,
            channel_id=str(channel_id),
            thread_id=None if thread_id is None else str(thread_id),
            user_id=str(user_id),
            message_id=None if message_id is None else str(message_id),
            interaction_token=interaction_token,
            application_id=None if application_id is None else str(application_id),
            extra=extra,
        )
        return await self.service.submit(key, request, reply)

    async def _dm_limits(self, user_id: int, tenant: str) -> None:
        limits = self.config.budgets
        if limits.dm_daily_usd <= 0 or limits.dm_monthly_usd <= 0:
            raise RefusedError(
                "Fusion is not available in direct messages here. Ask in a server channel "
                "with /fuse or by mentioning me."
            )
        if await self.store.claim_dm_limits(str(user_id)):
            try:
                await self.service.set_limits(
                    tenant, daily_usd=limits.dm_daily_usd, monthly_usd=limits.dm_monthly_usd
                )
            except BaseException:
                await self.store.forget_dm_limits(str(user_id))
                raise
