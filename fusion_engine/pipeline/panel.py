"""The panel stage: ask every pool member at once, with fallbacks, quorum, grace and deadline.

Partial failure is the normal case here, so the rule is explicit: a member's coroutine catches
only ``ModelCallError`` ("this model failed") and turns it into a ``PanelFailure`` with a reason a
person can read; anything else is a bug and propagates (the other members are then cancelled);
``CancelledError`` is never caught. Stragglers are cancelled when the grace period after quorum,
or the stage deadline, runs out, and are recorded as failures saying so.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fusion_engine.allowance import UNLIMITED, SpendGuard, call_ceiling
from fusion_engine.errors import ModelCallError, ModelOutputError, ModelTimeout, QuorumError
from fusion_engine.events import FusionEvent, MemberFailed, MemberFinished, MemberStarted
from fusion_engine.llm.base import (
    ChatMessage,
    ChatRequest,
    Completion,
    ModelClient,
    PriceSource,
    TextSink,
    Usage,
)
from fusion_engine.llm.pricing import price_usage
from fusion_engine.pipeline.prompts import load_prompt
from fusion_engine.pools import PoolSpec
from fusion_engine.request import FusionRequest
from fusion_engine.result import MemberResult, PanelAnswer, PanelFailure

__all__ = [
    "Caller",
    "Emit",
    "billed_usage",
    "describe_failure",
    "panel_messages",
    "run_panel",
    "stage_request",
]

Emit = Callable[[FusionEvent], None]
"""Publishes a progress event. Synchronous: publishing never waits on a slow consumer."""

_MAX_REASON_CHARS = 200

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Caller:
    """What every stage needs to make one priced model call, within one fusion's ``guard``."""

    client: ModelClient
    prices: PriceSource
    clock: Callable[[], float]
    guard: SpendGuard = UNLIMITED

    async def call(
        self, request: ChatRequest, on_text: TextSink | None = None
    ) -> tuple[Completion, Usage]:
        """Run one call; return it with its usage priced from ``prices`` when not reported.

        The call's ceiling is reserved with the guard first (``CallOverBudget`` if refused, and
        then nothing is called) and replaced by its real cost when it ends, however it ends.
        A call is never charged more than the ceiling it reserved: should the endpoint bill
        more (a prompt that tokenized denser than estimated, a price above the listed one), the
        excess is logged and is the operator's cost, so a team's recorded spend stays within
        what its budget held."""
        ceiling = await call_ceiling(request, self.prices)
        await self.guard.reserve(request.model, ceiling)
        spent = 0
        try:
            completion = await self.client.complete(request, on_text)
            usage = await self._charge(request.model, completion.usage, ceiling)
            spent = usage.cost_micros
        except ModelCallError as exc:
            # A failed call can still be billed (an empty answer reports its usage): price it
            # and cap it here too, so the stages charge exactly what the guard recorded.
            if exc.usage is not None:
                exc.usage = await self._charge(request.model, exc.usage, ceiling)
                spent = exc.usage.cost_micros
            raise
        finally:
            self.guard.release(ceiling, spent)
        return completion, usage

    async def _charge(self, model: str, usage: Usage, ceiling: int) -> Usage:
        """``usage`` priced from ``prices`` when not reported, and capped at ``ceiling``."""
        usage = await price_usage(usage, model, self.prices)
        if usage.cost_micros > ceiling:
            log.warning(
                "%s cost %d micro-dollars, above the %d reserved; charging the reservation",
                model,
                usage.cost_micros,
                ceiling,
            )
            usage = usage.model_copy(update={"cost_micros": ceiling})
        return usage


def stage_request(
    pool: PoolSpec,
    model: str,
    messages: tuple[ChatMessage, ...],
    *,
    max_tokens: int,
    temperature: float | None = None,
    json_schema: dict[str, Any] | None = None,
) -> ChatRequest:
    """One call of a stage, under the pool's per-call timeout and retries (the same for the
    panel, the judge and the writer; each stage picks its own cap and temperature)."""
    return ChatRequest(
        model=model,
        messages=messages,
        max_tokens=max_tokens,
        temperature=temperature,
        json_schema=json_schema,
        timeout_s=pool.call_timeout_s,
        max_retries=pool.max_retries,
    )


def billed_usage(exc: ModelCallError) -> Usage:
    """What a failed call was billed (``Caller.call`` has priced and capped it): an empty
    answer still reports its usage, and the budget has to be charged what it was charged."""
    return exc.usage if exc.usage is not None else Usage()


def describe_failure(exc: ModelCallError, timeout_s: float) -> str:
    """A short reason that is safe to show in a chat (the client has scrubbed secrets)."""
    reason = exc.detail
    if isinstance(exc, ModelTimeout) and reason == "timed out":  # the bare default: say how long
        reason = f"timed out after {timeout_s:g} s"
    reason = " ".join(reason.split())
    if len(reason) > _MAX_REASON_CHARS:
        reason = reason[: _MAX_REASON_CHARS - 1] + "…"
    return reason


def panel_messages(request: FusionRequest) -> tuple[ChatMessage, ...]:
    """System prompt, the thread's earlier turns, then the question."""
    return (
        ChatMessage(role="system", content=load_prompt("panel_system.md")),
        *(ChatMessage(role=t.role, content=t.content) for t in request.history),
        ChatMessage(role="user", content=request.question),
    )


async def _ask_member(
    caller: Caller,
    request: FusionRequest,
    model: str,
    messages: tuple[ChatMessage, ...],
    failed_calls: list[tuple[str, str]],
) -> MemberResult:
    """Ask ``model``, then each of its fallbacks in order, until one gives a non-empty answer.

    Each failed call is appended to ``failed_calls`` as ``(slug, reason)``."""
    pool = request.pool
    started = caller.clock()
    spent = Usage()
    errors: list[tuple[str, ModelCallError]] = []
    for slug in (model, *pool.fallbacks.get(model, ())):
        chat = stage_request(
            pool, slug, messages, max_tokens=pool.max_output_tokens, temperature=pool.temperature
        )
        try:
            completion, usage = await caller.call(chat)
        except ModelCallError as exc:
            spent += billed_usage(exc)
            errors.append((slug, exc))
            continue
        spent += usage
        if not completion.text.strip():
            errors.append((slug, ModelOutputError(slug, "empty answer")))
            continue
        return PanelAnswer(
            model=model,
            served_by=completion.served_by if slug == model else slug,
            text=completion.text,
            latency_s=caller.clock() - started,
            usage=spent,
            cut_at_tokens=chat.max_tokens if completion.truncated else None,
        )
    reasons = [describe_failure(exc, pool.call_timeout_s) for _, exc in errors]
    failed_calls.extend(zip((slug for slug, _ in errors), reasons, strict=True))
    reason = reasons[0] + "".join(
        f"; fallback {slug}: {why}" for (slug, _), why in zip(errors[1:], reasons[1:], strict=True)
    )
    return PanelFailure(
        model=model,
        reason=reason,
        error_kind=errors[0][1].kind,
        latency_s=caller.clock() - started,
        usage=spent,
    )


async def run_panel(caller: Caller, request: FusionRequest, emit: Emit) -> tuple[MemberResult, ...]:
    """Run the panel stage; return every member's outcome in pool order.

    Raises ``QuorumError`` (naming every failure) when fewer than ``pool.quorum`` answered.
    """
    pool = request.pool
    messages = panel_messages(request)
    loop = asyncio.get_running_loop()
    started = caller.clock()
    outcomes: dict[str, MemberResult] = {}
    failed_calls: list[tuple[str, str]] = []
    answered = 0

    async def member(model: str) -> None:
        nonlocal answered
        outcome = await _ask_member(caller, request, model, messages, failed_calls)
        outcomes[model] = outcome
        if isinstance(outcome, PanelAnswer):
            answered += 1
            emit(MemberFinished(answer=outcome))
        else:
            emit(MemberFailed(failure=outcome))

    for model in pool.models:
        emit(MemberStarted(model=model))
    tasks = {asyncio.create_task(member(m), name=f"panel:{m}"): m for m in pool.models}
    pending: set[asyncio.Task[None]] = set(tasks)
    deadline = loop.time() + pool.deadline_s
    grace_end: float | None = None
    try:
        while pending:
            limit = deadline if grace_end is None else min(deadline, grace_end)
            timeout = limit - loop.time()
            if timeout <= 0:
                break
            done, pending = await asyncio.wait(
                pending, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            for task in done:
                task.result()  # a bug in a member surfaces here; the finally cancels the rest
            if grace_end is None and answered >= pool.quorum:
                grace_end = loop.time() + pool.grace_s
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)

    in_grace = grace_end is not None and grace_end <= deadline
    for task in pending:
        model = tasks[task]
        if model in outcomes:  # finished just as it was cancelled
            continue
        if in_grace:
            reason, kind = f"still running after the {pool.grace_s:g} s grace period", "grace"
        else:
            reason, kind = f"no answer within the {pool.deadline_s:g} s panel deadline", "deadline"
        failure = PanelFailure(
            model=model, reason=reason, error_kind=kind, latency_s=caller.clock() - started
        )
        outcomes[model] = failure
        failed_calls.append((model, reason))
        emit(MemberFailed(failure=failure))

    results = tuple(outcomes[m] for m in pool.models)
    if answered < pool.quorum:
        failures = {r.model: r.reason for r in results if isinstance(r, PanelFailure)}
        raise QuorumError(answered, pool.quorum, failures, calls=failed_calls)
    return results
