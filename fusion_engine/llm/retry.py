"""``RetryingClient``: a ``ModelClient`` wrapper that retries what is worth retrying.

Behaviour is added by wrapping, not by flags on the concrete client, so the same retry rule
applies to any ``ModelClient`` (and tests can wrap a fake).

The rule:

- Only a ``ModelCallError`` with ``retryable=True`` is retried (429, 408, 502, 503, 504,
  connection failures, timeouts). 400/401/402/404 and bad output are the same on every attempt,
  so they fail at once. Anything that is not a ``ModelCallError`` is a bug and propagates, and
  ``CancelledError`` is never caught.
- A server's ``Retry-After`` is honoured exactly. If it asks for longer than ``max_delay_s``, the
  call gives up at once with the server's error: waiting that long would blow the fusion's
  deadline anyway, and the error says why.
- Otherwise the delay is exponential with jitter (``base_delay_s`` doubling, capped at
  ``max_delay_s``), so a burst of fusions hitting one rate limit does not retry in lockstep.
- Once any text of the answer has been passed to ``on_text``, the call is not retried: the
  caller has already shown those words, and a second attempt would repeat or contradict them.
  The error is raised instead and the caller decides (typically: the panel member failed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from tenacity import AsyncRetrying, RetryCallState, stop_after_attempt, wait_exponential_jitter

from fusion_engine.errors import ModelCallError
from fusion_engine.llm.base import ChatRequest, Completion, ModelClient, TextSink

__all__ = ["RetryingClient"]


class RetryingClient:
    """Wraps ``inner``; retries retryable failures up to ``max_retries`` times.

    ``sleep`` is injectable so tests can record the delays instead of waiting them out.
    """

    def __init__(
        self,
        inner: ModelClient,
        *,
        max_retries: int = 2,
        base_delay_s: float = 0.5,
        max_delay_s: float = 20.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.inner = inner
        self._max_retries = max_retries
        self._max_delay_s = max_delay_s
        self._backoff = wait_exponential_jitter(
            multiplier=base_delay_s, max=max_delay_s, jitter=base_delay_s
        )
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"RetryingClient({self.inner!r}, max_retries={self._max_retries})"

    async def complete(self, request: ChatRequest, on_text: TextSink | None = None) -> Completion:
        streamed = False

        async def tracking_sink(delta: str) -> None:
            nonlocal streamed
            streamed = True
            assert on_text is not None
            await on_text(delta)

        def should_retry(state: RetryCallState) -> bool:
            outcome = state.outcome
            if outcome is None or not outcome.failed:
                return False
            exc = outcome.exception()
            if not isinstance(exc, ModelCallError) or not exc.retryable or streamed:
                return False
            return exc.retry_after is None or exc.retry_after <= self._max_delay_s

        retrying = AsyncRetrying(
            stop=stop_after_attempt(
                (self._max_retries if request.max_retries is None else request.max_retries) + 1
            ),
            wait=self._wait,
            retry=should_retry,
            sleep=self._sleep,
            reraise=True,
        )
        sink = tracking_sink if on_text is not None else None
        return await retrying(self.inner.complete, request, sink)

    def _wait(self, state: RetryCallState) -> float:
        """The server's ``Retry-After`` when it sent one (already checked against the cap),
        else exponential backoff with jitter."""
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, ModelCallError) and exc.retry_after is not None:
            return exc.retry_after
        return float(self._backoff(state))
