"""``SlackResponder``: renders a job's progress and result into Slack messages.

One channel message per job, posted on the first event and edited in place as panel models
finish (through a ``Coalescer``: at most one edit a second, the final state always shown),
then replaced by the fused answer; continuation parts and each model's own answer follow as
replies in that message's thread. Its channel, ``ts`` and what was already posted live in a
Redis hash keyed by the job, so a re-delivered job (a worker crash, a retry) updates the same
message and skips replies already posted instead of posting twice.

When the bot is not in the channel, it joins (public channels); when it cannot, it answers
through the slash command's ``response_url`` instead: no progress edits there (Slack allows five
uses in thirty minutes), just the final answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

import redis.asyncio as aioredis
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.common import Coalescer, ProgressView
from adapters.slack.render import (
    SlackMessage,
    error_message,
    final_messages,
    member_messages,
    progress_message,
)
from adapters.slack.store import SlackStore
from fusion_engine.budget.base import BudgetStatus
from fusion_engine.errors import FusionError, UnavailableError
from fusion_engine.events import Done, FusionEvent
from fusion_engine.jobs.base import FusionJob, ReplyTarget
from fusion_engine.result import FusionResult

__all__ = ["SlackResponder", "StaticToken", "TokenSource", "new_web_client"]

log = logging.getLogger(__name__)

_RESPONSE_URL_USES = 5


def _notice_block(text: str) -> dict[str, object]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": f":warning: {text}"}]}


_JOIN_ERRORS = frozenset({"not_in_channel"})
_GONE_ERRORS = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})
_FALLBACK_ERRORS = frozenset(
    {"not_in_channel", "channel_not_found", "method_not_supported_for_channel_type"}
)


class TokenSource(Protocol):
    """The bot token for the workspace a reply goes to (one token, or the installation's)."""

    async def bot_token(self, reply: ReplyTarget) -> str: ...


@dataclass(frozen=True)
class StaticToken:
    """Single-workspace mode: one bot token for every reply."""

    token: str

    async def bot_token(self, reply: ReplyTarget) -> str:
        return self.token


def new_web_client(api_url: str, token: str | None = None) -> AsyncWebClient:
    """A Web API client that honours ``Retry-After`` on 429 and retries dropped connections."""
    return AsyncWebClient(
        token=token,
        base_url=api_url,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(),
            AsyncRateLimitErrorRetryHandler(max_retry_count=2),
        ],
    )


@dataclass
class _Live:
    view: ProgressView
    coalescer: Coalescer[SlackMessage]


@dataclass
class SlackResponder:
    tokens: TokenSource
    redis: aioredis.Redis
    api_url: str = "https://slack.com/api/"
    interval_s: float = 1.0
    _live: dict[str, _Live] = field(default_factory=dict, init=False)
    _store: SlackStore = field(init=False)

    # -- state -----------------------------------------------------------------------------
    def __post_init__(self) -> None:
        self._store = SlackStore(self.redis)

    async def _state(self, job: FusionJob) -> dict[str, str]:
        return await self._store.message_state(job.key)

    async def _save(self, job: FusionJob, values: dict[str, str]) -> None:
        await self._store.update_message_state(job.key, values)

    async def job_for(self, job_key: str) -> FusionJob | None:
        """The job behind a posted answer (for Re-run), while its state is kept;
        ``UnavailableError`` when Redis is down."""
        return await self._store.job(job_key)

    async def result_for(self, job_key: str) -> FusionResult | None:
        """A finished job's result (for Show the analysis), while it is kept;
        ``UnavailableError`` when Redis is down."""
        return await self._store.result(job_key)

    async def _client(self, job: FusionJob) -> AsyncWebClient:
        return new_web_client(self.api_url, await self.tokens.bot_token(job.reply))

    # -- posting ---------------------------------------------------------------------------
    async def _post(
        self, client: AsyncWebClient, job: FusionJob, msg: SlackMessage, thread_ts: str | None
    ) -> str:
        response = await client.chat_postMessage(
            channel=job.reply.channel_id or "",
            thread_ts=thread_ts,
            text=msg.text,
            blocks=msg.blocks,
            unfurl_links=False,
            unfurl_media=False,
        )
        return str(response["ts"])

    async def _post_main(self, job: FusionJob, msg: SlackMessage) -> str | None:
        """Post the job's channel message; ``None`` when only ``response_url`` can reach it."""
        client = await self._client(job)
        try:
            return await self._post(client, job, msg, job.reply.thread_id)
        except SlackApiError as exc:
            error = str(exc.response.get("error", ""))
            if error not in _FALLBACK_ERRORS:
                raise _unavailable(exc) from None
            if error in _JOIN_ERRORS:
                try:
                    await client.conversations_join(channel=job.reply.channel_id or "")
                    return await self._post(client, job, msg, job.reply.thread_id)
                except SlackApiError as join_exc:
                    log.info("cannot join %s: %s", job.reply.channel_id, _error(join_exc))
            if job.reply.response_url is None:
                raise _unavailable(exc) from None
            return None

    async def _show(self, job: FusionJob, msg: SlackMessage) -> None:
        """Create or edit the job's channel message (the coalescer's send)."""
        state = await self._state(job)
        if state.get("final") or state.get("mode") == "response_url":
            return
        if "ts" in state:
            client = await self._client(job)
            try:
                await client.chat_update(
                    channel=state["channel"], ts=state["ts"], text=msg.text, blocks=msg.blocks
                )
                return
            except SlackApiError as exc:
                if _error(exc) not in _GONE_ERRORS:
                    raise _unavailable(exc) from None
                # Someone deleted the message: post the answer afresh rather than lose it.
        ts = await self._post_main(job, msg)
        if ts is None:
            await self._save(job, {"mode": "response_url", "job": job.model_dump_json()})
        else:
            await self._save(
                job,
                {
                    "mode": "message",
                    "channel": job.reply.channel_id or "",
                    "ts": ts,
                    "replies": "0",
                    "job": job.model_dump_json(),
                },
            )

    async def _respond(
        self, job: FusionJob, messages: list[SlackMessage], state: dict[str, str]
    ) -> None:
        """Answer through ``response_url`` (in the channel), within its five uses."""
        assert job.reply.response_url is not None
        hook = AsyncWebhookClient(job.reply.response_url)
        used = int(state.get("replies", "0"))
        if len(messages) > _RESPONSE_URL_USES:
            # Never cut silently: the last use says what is missing and how to get it.
            missing = len(messages) - (_RESPONSE_URL_USES - 1)
            note = (
                f"{missing} more part(s) of this answer could not be posted: Fusion is not in "
                "this channel, and Slack allows only five replies to a slash command here. "
                "Invite Fusion to the channel (or ask in a DM) to get whole answers."
            )
            messages = [
                *messages[: _RESPONSE_URL_USES - 1],
                SlackMessage(text=note, blocks=[_notice_block(note)]),
            ]
        for i, msg in enumerate(messages):
            if i < used:
                continue
            response = await hook.send(
                text=msg.text,
                blocks=msg.blocks,
                response_type="in_channel",
                replace_original=False,
            )
            if response.status_code != 200:
                raise UnavailableError(
                    f"Slack refused the response_url post ({response.status_code})"
                )
            await self._save(job, {"replies": str(i + 1)})

    # -- Responder protocol ----------------------------------------------------------------
    def _live_for(self, job: FusionJob) -> _Live:
        live = self._live.get(job.key)
        if live is None:

            async def send(msg: SlackMessage) -> None:
                await self._show(job, msg)

            live = _Live(ProgressView(), Coalescer(send, interval_s=self.interval_s))
            self._live[job.key] = live
        return live

    async def on_event(self, job: FusionJob, event: FusionEvent) -> None:
        if isinstance(event, Done):
            return
        live = self._live_for(job)
        if live.view.apply(event):
            await live.coalescer.submit(
                progress_message(
                    job.reply.user_id, job.request.question, job.request.pool.name, live.view
                )
            )

    async def _finish_live(self, job: FusionJob) -> None:
        live = self._live.pop(job.key, None)
        if live is not None:
            await live.coalescer.aclose()

    async def on_result(
        self, job: FusionJob, result: FusionResult, budget: BudgetStatus | None
    ) -> None:
        await self._finish_live(job)
        state = await self._state(job)
        if state.get("final"):
            return
        await self._store.save_result(job.key, result)
        main, rest = final_messages(job.reply.user_id, result, budget, job.key)
        if state.get("mode") == "response_url":
            await self._respond(job, [main, *rest], state)
            await self._save(job, {"final": "1"})
            return
        await self._show(job, main)
        state = await self._state(job)
        if state.get("mode") == "response_url":
            await self._respond(job, [main, *rest], state)
            await self._save(job, {"final": "1"})
            return
        replies = rest + [m for member in result.panel for m in member_messages(member)]
        thread_ts = job.reply.thread_id or state["ts"]
        client = await self._client(job)
        done = int(state.get("replies", "0"))
        for i, msg in enumerate(replies):
            if i < done:
                continue
            try:
                await self._post(client, job, msg, thread_ts)
            except SlackApiError as exc:
                raise _unavailable(exc) from None
            await self._save(job, {"replies": str(i + 1)})
        await self._save(job, {"final": "1"})

    async def on_error(self, job: FusionJob, error: FusionError) -> None:
        await self._finish_live(job)
        state = await self._state(job)
        if state.get("final"):
            return
        msg = error_message(job.reply.user_id, job.request.question, job.request.pool.name, error)
        if state.get("mode") != "response_url":
            await self._show(job, msg)
            state = await self._state(job)
        if state.get("mode") == "response_url":
            await self._respond(job, [msg], state)
        await self._save(job, {"final": "1"})


def _error(exc: SlackApiError) -> str:
    return str(exc.response.get("error", "unknown_error"))


def _unavailable(exc: SlackApiError) -> UnavailableError:
    return UnavailableError(f"Slack answered {_error(exc)}; the answer will be retried.")
