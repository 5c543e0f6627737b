"""The bolt ``AsyncApp``: ``/fuse``, mentions, DMs and buttons, translated into service calls.

Adapters translate, they don't think. A ``/fuse`` question is parsed, validated, quoted and
submitted (all in-process plus one Redis round trip) and acknowledged with the quote or the
reason for a refusal — nothing slow happens before the ack; the channel message, its updates
and the answer come from ``SlackResponder`` when a worker runs the job. Mentions and DMs are
acknowledged by bolt at once and submitted right after, with the thread as context.

Retried (``X-Slack-Retry-Num``) and duplicate Events API deliveries are dropped by their
``event_id`` (a Redis ``SET NX``) before anything runs; slash commands dedupe on their
``trigger_id`` through the service's job key. The job key alone would cover an accepted
question, but not the rest of what a mention does: without the marker a retry answers ``help``
or a refusal twice, and a question refused (say, over budget) could be accepted and charged on
Slack's retry after its asker was told it was refused.

When Redis is down, every path (``/fuse``, mentions, DMs, both buttons) tells the user the
README's ``UNAVAILABLE_MESSAGE`` instead of going silent: the adapter's own Redis calls go
through ``SlackStore`` (each guarded by ``redis_unavailable``, like the core's), and each
listener answers ``UnavailableError``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.common import (
    AskCommand,
    BudgetCommand,
    BudgetSetCommand,
    Command,
    FusionService,
    HelpCommand,
    PoolsCommand,
    parse_command,
)
from adapters.slack.render import (
    ANSWER_PREFIX,
    PART_PREFIX,
    RERUN_ACTION,
    SHOW_ANALYSIS_ACTION,
    accepted_text,
    analysis_message,
    budget_text,
    help_text,
    pools_text,
    refusal_text,
)
from adapters.slack.responder import SlackResponder
from adapters.slack.store import SlackStore
from fusion_engine.config import FusionConfig
from fusion_engine.errors import FusionError, UnavailableError
from fusion_engine.jobs.base import ReplyTarget
from fusion_engine.money import MICROS_PER_USD
from fusion_engine.request import ConversationTurn, FusionRequest

__all__ = ["SlackHandlers", "register", "tenant_of"]

log = logging.getLogger(__name__)

_ANSWER_TEXTS = (ANSWER_PREFIX, PART_PREFIX)
_MENTION = re.compile(r"<@[UW][A-Z0-9]+(\|[^>]*)?>")


def tenant_of(context: AsyncBoltContext) -> str:
    """``enterprise_id|team_id`` — each workspace (or org-wide install) has its own budget."""
    return f"{context.enterprise_id or ''}|{context.team_id or ''}"


def _extra(context: AsyncBoltContext) -> dict[str, str]:
    return {
        "enterprise_id": context.enterprise_id or "",
        "team_id": context.team_id or "",
        "is_enterprise_install": "1" if context.is_enterprise_install else "0",
    }


@dataclass
class SlackHandlers:
    service: FusionService
    config: FusionConfig
    redis: aioredis.Redis
    responder: SlackResponder
    _store: SlackStore = field(init=False)

    def __post_init__(self) -> None:
        self._store = SlackStore(self.redis)

    # -- shared pieces ---------------------------------------------------------------------
    async def _first_delivery(self, body: dict[str, Any]) -> bool:
        event_id = body.get("event_id")
        if not event_id:
            return True
        return await self._store.first_delivery(str(event_id))

    async def _is_admin(self, client: AsyncWebClient, user_id: str) -> bool:
        response = await client.users_info(user=user_id)
        user = response.get("user") or {}
        return bool(user.get("is_admin") or user.get("is_owner"))

    async def _budget_set(
        self, cmd: BudgetSetCommand, tenant: str, user_id: str, client: AsyncWebClient
    ) -> str:
        try:
            admin = await self._is_admin(client, user_id)
        except SlackApiError as exc:
            return f":warning: Could not check your role ({exc.response.get('error')}); try again."
        if not admin:
            return ":no_entry_sign: Only workspace admins and owners can change the budget."
        try:
            current = await self.service.budget(tenant)
            daily = (
                cmd.daily_usd
                if cmd.daily_usd is not None
                else current.daily_limit_micros / MICROS_PER_USD
            )
            monthly = (
                cmd.monthly_usd
                if cmd.monthly_usd is not None
                else current.monthly_limit_micros / MICROS_PER_USD
            )
            status = await self.service.set_limits(tenant, daily_usd=daily, monthly_usd=monthly)
        except FusionError as exc:
            return refusal_text(exc)
        return ":white_check_mark: Limits updated.\n" + budget_text(status)

    async def _info(self, cmd: Command, tenant: str) -> str | None:
        """The answer to ``help``/``pools``/``budget``; ``None`` for other commands."""
        if isinstance(cmd, HelpCommand):
            return help_text(self.config)
        if isinstance(cmd, PoolsCommand):
            return pools_text(self.config)
        if isinstance(cmd, BudgetCommand):
            return budget_text(await self.service.budget(tenant))
        return None

    async def _submit(
        self,
        key: str,
        cmd: AskCommand,
        reply: ReplyTarget,
        history: tuple[ConversationTurn, ...] = (),
    ) -> tuple[bool, str]:
        """Submit a question: (accepted, the ack text: quote or refusal). Refusals charge
        nothing."""
        try:
            pool = self.config.pool(cmd.pool)
            request = FusionRequest.create(
                cmd.question, pool, history=history, tenant=reply.tenant, user=reply.user_id
            )
            accepted = await self.service.submit(key, request, reply)
        except FusionError as exc:
            return False, refusal_text(exc)
        if accepted.duplicate:
            return True, ":repeat: Already on it."
        return True, accepted_text(len(pool.models), accepted.quote)

    # -- /fuse -----------------------------------------------------------------------------
    async def fuse(
        self,
        ack: Any,
        command: dict[str, Any],
        context: AsyncBoltContext,
        respond: Any,
        client: AsyncWebClient,
    ) -> None:
        tenant = tenant_of(context)
        user_id = str(command.get("user_id", ""))
        try:
            cmd = parse_command(str(command.get("text", "")))
            if isinstance(cmd, BudgetSetCommand):
                await _ephemeral(ack, ":hourglass_flowing_sand: Checking your role…")
                await respond(await self._budget_set(cmd, tenant, user_id, client))
                return
            info = await self._info(cmd, tenant)
        except FusionError as exc:
            await _ephemeral(ack, refusal_text(exc))
            return
        if info is not None:
            await _ephemeral(ack, info)
            return
        assert isinstance(cmd, AskCommand)
        reply = ReplyTarget(
            platform="slack",
            tenant=tenant,
            channel_id=command.get("channel_id"),
            user_id=user_id,
            response_url=command.get("response_url"),
            extra=_extra(context),
        )
        key = f"slack:cmd:{command.get('trigger_id') or command.get('response_url')}"
        _, text = await self._submit(key, cmd, reply)
        await _ephemeral(ack, text)

    # -- mentions and DMs ------------------------------------------------------------------
    async def _history(
        self,
        client: AsyncWebClient,
        channel: str,
        thread_ts: str,
        current_ts: str,
        bot_user_id: str | None,
    ) -> tuple[ConversationTurn, ...]:
        try:
            response = await client.conversations_replies(channel=channel, ts=thread_ts, limit=50)
        except SlackApiError as exc:
            log.info("no thread history for %s: %s", channel, exc.response.get("error"))
            return ()
        turns: list[ConversationTurn] = []
        for message in response.get("messages") or []:
            if message.get("ts") == current_ts:
                continue
            from_bot = bool(message.get("bot_id")) or message.get("user") == bot_user_id
            if from_bot and not str(message.get("text", "")).startswith(_ANSWER_TEXTS):
                continue  # progress, per-model answers, notes: not part of the conversation
            text = _message_text(message) if from_bot else _strip_mentions(message.get("text", ""))
            if text.strip():
                turns.append(
                    ConversationTurn(role="assistant" if from_bot else "user", content=text)
                )
        return tuple(turns)

    async def mention(
        self,
        body: dict[str, Any],
        event: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        if event.get("bot_id") or event.get("subtype"):
            return
        tenant = tenant_of(context)
        channel = str(event.get("channel", ""))
        user_id = str(event.get("user", ""))
        ts = str(event.get("ts", ""))
        parent = event.get("thread_ts")
        thread_ts = str(parent or ts)
        is_dm = event.get("channel_type") == "im"
        try:
            first = await self._first_delivery(body)
        except UnavailableError as exc:
            await self._tell(
                client, channel, user_id, thread_ts, refusal_text(exc), ephemeral=not is_dm
            )
            return
        if not first:
            return
        try:
            cmd = parse_command(_strip_mentions(str(event.get("text", ""))))
            if isinstance(cmd, BudgetSetCommand):
                text = await self._budget_set(cmd, tenant, user_id, client)
            else:
                text = await self._info(cmd, tenant) or ""
        except FusionError as exc:
            cmd, text = None, refusal_text(exc)
        if isinstance(cmd, AskCommand):
            history: tuple[ConversationTurn, ...] = ()
            if parent:
                history = await self._history(client, channel, str(parent), ts, context.bot_user_id)
            reply = ReplyTarget(
                platform="slack",
                tenant=tenant,
                channel_id=channel,
                thread_id=None if is_dm and not parent else thread_ts,
                user_id=user_id,
                extra=_extra(context),
            )
            accepted, text = await self._submit(
                f"slack:ev:{body.get('event_id')}", cmd, reply, history
            )
            if accepted:
                return
        await self._tell(client, channel, user_id, thread_ts, text, ephemeral=not is_dm)

    async def _tell(
        self,
        client: AsyncWebClient,
        channel: str,
        user_id: str,
        thread_ts: str,
        text: str,
        *,
        ephemeral: bool,
    ) -> None:
        try:
            if ephemeral:
                await client.chat_postEphemeral(
                    channel=channel, user=user_id, thread_ts=thread_ts, text=text
                )
            else:
                await client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text)
        except SlackApiError as exc:
            log.warning("could not answer in %s: %s", channel, exc.response.get("error"))

    async def direct_message(
        self,
        body: dict[str, Any],
        event: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        if event.get("channel_type") != "im":
            return
        await self.mention(body, event, context, client)

    # -- buttons ---------------------------------------------------------------------------
    async def rerun(
        self,
        ack: Any,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: Any,
        context: AsyncBoltContext,
    ) -> None:
        await ack()
        try:
            job = await self.responder.job_for(str(action.get("value", "")))
        except UnavailableError as exc:
            await _tell_clicker(respond, refusal_text(exc))
            return
        if job is None:
            await _tell_clicker(
                respond, "This answer is too old to re-run; ask again with `/fuse`."
            )
            return
        user_id = str((body.get("user") or {}).get("id", ""))
        reply = job.reply.model_copy(
            update={"user_id": user_id, "message_id": None, "response_url": None}
        )
        cmd = AskCommand(question=job.request.question, pool=job.request.pool.name)
        request_pool = job.request.pool
        try:
            request = FusionRequest.create(
                cmd.question,
                request_pool,
                history=job.request.history,
                tenant=reply.tenant,
                user=user_id,
            )
            accepted = await self.service.submit(
                f"slack:act:{body.get('trigger_id')}", request, reply
            )
            text = accepted_text(len(request_pool.models), accepted.quote)
        except FusionError as exc:
            text = refusal_text(exc)
        await _tell_clicker(respond, text)

    async def show_analysis(self, ack: Any, action: dict[str, Any], respond: Any) -> None:
        await ack()
        try:
            result = await self.responder.result_for(str(action.get("value", "")))
        except UnavailableError as exc:
            await _tell_clicker(respond, refusal_text(exc))
            return
        if result is None:
            await _tell_clicker(respond, "This analysis is no longer kept.")
            return
        msg = analysis_message(result.analysis, result)
        await respond(
            text=msg.text, blocks=msg.blocks, response_type="ephemeral", replace_original=False
        )


async def _tell_clicker(respond: Any, text: str) -> None:
    """Answer a button click with a message only the clicker sees."""
    await respond(text=text, response_type="ephemeral", replace_original=False)


async def _ephemeral(ack: Any, text: str) -> None:
    """Acknowledge a slash command with a message only the user sees."""
    await ack(text=text, response_type="ephemeral")


def _strip_mentions(text: str) -> str:
    return _MENTION.sub("", text).strip()


def _message_text(message: dict[str, Any]) -> str:
    """The text of one of Fusion's own answers: its ``markdown`` blocks, else its text."""
    parts = [b.get("text", "") for b in message.get("blocks") or [] if b.get("type") == "markdown"]
    text = "\n\n".join(p for p in parts if p) or str(message.get("text", ""))
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def register(app: AsyncApp, handlers: SlackHandlers) -> None:
    """Attach the listeners to ``app``."""
    app.command("/fuse")(handlers.fuse)
    app.event("app_mention")(handlers.mention)
    app.event("message")(handlers.direct_message)
    app.action(RERUN_ACTION)(handlers.rerun)
    app.action(SHOW_ANALYSIS_ACTION)(handlers.show_analysis)
