"""``DiscordResponder``: how a fusion job's progress and result reach Discord.

The main message is the interaction's deferred "thinking" response (edited through the
interaction webhook) or, for mentions, the placeholder reply the bot posted. Interaction tokens
last 15 minutes; past ``token_ttl_s`` (or when Discord says the token is invalid) everything goes
to the channel with the bot token instead, and when the bot may not post there, to the user's
DMs. Every message id posted is recorded in Redis before the next step, so a job re-run after a
crash edits what exists instead of posting twice. Progress edits are throttled to one per
``min_edit_interval_s`` per job.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import discord
from discord.http import HTTPClient
from discord.utils import snowflake_time

from adapters.common import Coalescer, ProgressView
from adapters.discord.render import (
    answer_payloads,
    error_payloads,
    member_payloads,
    notice_payload,
    progress_payload,
    thread_name,
)
from adapters.discord.rest import DiscordRest, Payload, is_token_error
from adapters.discord.store import DiscordStore, Posted
from fusion_engine.budget.base import BudgetStatus
from fusion_engine.errors import FusionError
from fusion_engine.events import Done, FusionEvent
from fusion_engine.jobs.base import FusionJob
from fusion_engine.request import ConversationTurn
from fusion_engine.result import FusionResult

__all__ = ["TOKEN_TTL_S", "DiscordResponder", "open_responder"]

_log = logging.getLogger(__name__)

TOKEN_TTL_S = 14 * 60.0
"""Discord's interaction tokens last 15 minutes; keep a minute of margin."""

_THREAD_EXISTS = 160004


class DiscordResponder:
    """Implements ``fusion_engine.jobs.base.Responder`` for ``platform == "discord"``."""

    def __init__(
        self,
        rest: DiscordRest,
        store: DiscordStore,
        *,
        token_ttl_s: float = TOKEN_TTL_S,
        min_edit_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._rest = rest
        self._store = store
        self._token_ttl = timedelta(seconds=token_ttl_s)
        self._interval = min_edit_interval_s
        self._clock = clock
        self._now = now
        self._live: dict[str, tuple[ProgressView, Coalescer[str]]] = {}
        self._dead_tokens: set[str] = set()

    # Responder protocol ---------------------------------------------------------------------

    async def on_event(self, job: FusionJob, event: FusionEvent) -> None:
        live = self._live.get(job.key)
        if live is None:

            async def show(text: str) -> None:
                await self._show_progress(job, text)

            live = ProgressView(), Coalescer(show, interval_s=self._interval, clock=self._clock)
            self._live[job.key] = live
        view, coalescer = live
        if view.apply(event) and not isinstance(event, Done):
            await coalescer.submit("\n".join(view.lines()))

    async def _show_progress(self, job: FusionJob, text: str) -> None:
        posted = await self._store.posted(job.key)
        if posted.done:
            return
        try:
            await self._put_main(job, progress_payload(text), posted, create=False)
        except discord.HTTPException as exc:
            _log.warning("progress edit for job %s failed: HTTP %s", job.key, exc.status)

    async def on_result(
        self, job: FusionJob, result: FusionResult, budget: BudgetStatus | None
    ) -> None:
        await self._forget(job)
        await self._store.save_result(job.key, result)
        posted = await self._store.posted(job.key)
        if posted.done:  # delivered before a crash, just not marked done by the worker
            return
        payloads = answer_payloads(result, budget, job.key)
        posted = await self._put_main(job, payloads[0], posted, create=True)
        for index, payload in enumerate(payloads[1:]):
            posted = await self._put_part(job, index, payload, posted)
        posted = await self._thread(job, result, posted)
        thread = job.reply.thread_id or posted.thread_id
        if thread is not None:
            turns = (
                *job.request.history,
                ConversationTurn(role="user", content=job.request.question),
                ConversationTurn(role="assistant", content=result.answer),
            )
            await self._store.save_conversation(thread, turns)
        await self._save(job, posted.model_copy(update={"done": True}))

    async def on_error(self, job: FusionJob, error: FusionError) -> None:
        await self._forget(job)
        posted = await self._store.posted(job.key)
        if posted.done:
            return
        payloads = error_payloads(error)
        posted = await self._put_main(job, payloads[0], posted, create=True)
        for index, payload in enumerate(payloads[1:]):
            posted = await self._put_part(job, index, payload, posted)
        await self._save(job, posted.model_copy(update={"done": True}))

    # the main message ------------------------------------------------------------------------

    async def _forget(self, job: FusionJob) -> None:
        """Stop progress edits for ``job`` and wait out one in flight, so the final message is
        never overwritten by a late progress edit."""
        live = self._live.pop(job.key, None)
        if live is not None:
            await live[1].aclose()
            await live[1].flush()

    def webhook(self, job: FusionJob) -> tuple[str, str] | None:
        """``(application id, token)`` while the interaction token is usable: present, not
        known dead, and younger than ``token_ttl_s``; else ``None``."""
        token = job.reply.interaction_token
        app_id = job.reply.application_id
        if token is None or app_id is None or token in self._dead_tokens:
            return None
        interaction_id = job.reply.extra.get("interaction_id")
        created = snowflake_time(int(interaction_id)) if interaction_id else job.created_at
        return (app_id, token) if self._now() - created < self._token_ttl else None

    async def _save(self, job: FusionJob, posted: Posted) -> Posted:
        await self._store.save_posted(job.key, posted)
        return posted

    async def _put_main(
        self, job: FusionJob, payload: Payload, posted: Posted, *, create: bool
    ) -> Posted:
        """Edit the main message in place, wherever it lives; post it if it must exist."""
        reply = job.reply
        if posted.main_channel is not None and posted.main_id is not None:
            await self._rest.edit(posted.main_channel, posted.main_id, payload)
            return posted
        if reply.message_id is not None and reply.channel_id is not None:
            await self._rest.edit(reply.channel_id, reply.message_id, payload)
            update = {"main_id": reply.message_id, "main_channel": reply.channel_id}
            return await self._save(job, posted.model_copy(update=update))
        webhook = self.webhook(job)
        if webhook is not None:
            try:
                message = await self._rest.edit_original(*webhook, payload)
            except discord.HTTPException as exc:
                if not is_token_error(exc):
                    raise
                self._dead_tokens.add(webhook[1])
            else:
                if posted.main_id != str(message["id"]):
                    posted = await self._save(
                        job, posted.model_copy(update={"main_id": str(message["id"])})
                    )
                return posted
        if not create:
            return posted
        channel, message_id = await self._send_somewhere(job, payload)
        return await self._save(
            job, posted.model_copy(update={"main_id": message_id, "main_channel": channel})
        )

    async def _send_somewhere(self, job: FusionJob, payload: Payload) -> tuple[str, str]:
        """Post in the job's channel with the bot token; if that is forbidden, in the user's DMs."""
        reply = job.reply
        problem = "the channel is unknown"
        if reply.channel_id is not None:
            try:
                message = await self._rest.send(reply.channel_id, payload)
                return reply.channel_id, str(message["id"])
            except (discord.Forbidden, discord.NotFound) as exc:
                problem = f"I may not post in <#{reply.channel_id}> ({exc.text or exc.status})"
        if reply.user_id is None:
            raise FusionError(f"Cannot deliver the answer: {problem}, and no user to DM.")
        note = f"-# {problem}, so the answer is here.\n"
        content = str(payload.get("content") or "")
        dm_payload = payload
        if len(note) + len(content) <= 2000:
            dm_payload = {**payload, "content": note + content}
        message = await self._rest.send_dm(reply.user_id, dm_payload)
        return str(message["channel_id"]), str(message["id"])

    # overflow parts, the thread --------------------------------------------------------------

    async def _put_part(
        self, job: FusionJob, index: int, payload: Payload, posted: Posted
    ) -> Posted:
        """The ``index``-th extra message after the main one (long answers, long analyses)."""
        if index < len(posted.parts):
            where, _, message_id = posted.parts[index].rpartition(":")
            webhook = self.webhook(job)
            if where == "w" and webhook is not None:
                await self._rest.edit_followup(*webhook, message_id, payload)
            elif where.startswith("c:"):
                await self._rest.edit(where[2:], message_id, payload)
            return posted
        ref = await self._post_part(job, payload, posted)
        return await self._save(job, posted.model_copy(update={"parts": (*posted.parts, ref)}))

    async def _post_part(self, job: FusionJob, payload: Payload, posted: Posted) -> str:
        webhook = self.webhook(job)
        if posted.main_channel is None and webhook is not None:
            try:
                message = await self._rest.followup(*webhook, payload)
                return f"w:{message['id']}"
            except discord.HTTPException as exc:
                if not is_token_error(exc):
                    raise
                self._dead_tokens.add(webhook[1])
        if posted.main_channel is not None:
            message = await self._rest.send(posted.main_channel, payload)
            return f"c:{posted.main_channel}:{message['id']}"
        channel, message_id = await self._send_somewhere(job, payload)
        return f"c:{channel}:{message_id}"

    async def _thread(self, job: FusionJob, result: FusionResult, posted: Posted) -> Posted:
        """Open a thread on the answer and post each model's own answer there, once."""
        if job.reply.thread_id is not None or job.reply.tenant.startswith("dm:"):
            return posted
        if posted.main_id is None or posted.thread_note is not None:
            return posted
        channel = posted.main_channel or job.reply.channel_id
        if channel is None:
            return posted
        if posted.thread_id is None:
            try:
                thread = await self._rest.start_thread(
                    channel, posted.main_id, thread_name(job.request.question)
                )
                thread_id = str(thread["id"])
            except discord.HTTPException as exc:
                if exc.code != _THREAD_EXISTS:
                    return await self._thread_failed(job, posted, "open a thread", exc)
                thread_id = posted.main_id
            posted = await self._save(job, posted.model_copy(update={"thread_id": thread_id}))
        assert posted.thread_id is not None
        for index in range(posted.thread_parts, len(result.panel)):
            try:
                for payload in member_payloads(result, index):
                    await self._rest.send(posted.thread_id, payload)
            except discord.Forbidden as exc:
                return await self._thread_failed(job, posted, "post in the thread", exc)
            posted = await self._save(job, posted.model_copy(update={"thread_parts": index + 1}))
        return posted

    async def _thread_failed(
        self, job: FusionJob, posted: Posted, action: str, exc: discord.HTTPException
    ) -> Posted:
        reason = exc.text or f"HTTP {exc.status}"
        note = (
            f"I couldn't {action} for each model's answer ({reason}: ask an admin to grant "
            "Create Public Threads and Send Messages in Threads). The buttons on the answer "
            "show each model's answer."
        )
        _log.warning("job %s: could not %s: %s", job.key, action, exc.status)
        posted = posted.model_copy(update={"thread_note": note})
        return await self._put_part(job, len(posted.parts), notice_payload(note), posted)


@asynccontextmanager
async def open_responder(
    token: str,
    store: DiscordStore,
    *,
    min_edit_interval_s: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
) -> AsyncIterator[DiscordResponder]:
    """A responder with its own logged-in REST client, for a worker process with no gateway.

    Call ``point_at`` first when Discord's REST API is not at its usual address. Raises
    ``discord.LoginFailure`` for a bad token."""
    http = HTTPClient(asyncio.get_running_loop())
    try:
        await http.static_login(token)
        yield DiscordResponder(
            DiscordRest(http), store, min_edit_interval_s=min_edit_interval_s, clock=clock
        )
    finally:
        await http.close()
