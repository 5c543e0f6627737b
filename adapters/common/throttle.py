"""``Coalescer``: deliver the latest state of a message at most once per interval.

Chat platforms rate-limit message edits (Slack's ``chat.update`` is about one per second per
channel; Discord's is similar), while a fusion emits bursts of events. A ``Coalescer`` accepts
every new state with ``submit`` and edits at most once per ``interval_s``: the first state goes
out at once, later ones wait for the next slot and only the newest waiting one is sent.
``flush`` sends whatever is still waiting right away (the final state is always delivered) and
``aclose`` drops it. Sends never overlap.

A failed delayed send is logged and dropped: progress edits are best-effort, and the next state
(or ``flush``) supersedes it. A failure of the immediate or flushed send propagates.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["Coalescer"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class Coalescer(Generic[T]):
    def __init__(
        self,
        send: Callable[[T], Awaitable[None]],
        *,
        interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self._interval_s = interval_s
        self._clock = clock
        self._pending: list[T] = []
        self._last_sent = float("-inf")
        self._lock = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None
        self.sent = 0
        """How many states were delivered (for tests and metrics)."""

    @property
    def has_pending(self) -> bool:
        return bool(self._pending)

    async def submit(self, state: T) -> None:
        """Offer a new state. Sends now when the slot is free, else schedules the newest."""
        self._pending[:] = [state]
        wait = self._last_sent + self._interval_s - self._clock()
        if wait <= 0 and not self._lock.locked() and self._timer is None:
            await self._deliver()
        elif self._timer is None:
            self._timer = asyncio.create_task(self._later(max(0.0, wait)))

    async def _later(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._timer = None
        try:
            await self._deliver()
        except Exception:
            log.warning(
                "delayed message update failed; a later update supersedes it", exc_info=True
            )

    async def _deliver(self) -> None:
        async with self._lock:
            if not self._pending:
                return
            state = self._pending.pop()
            self._last_sent = self._clock()
            await self._send(state)
            self.sent += 1

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def flush(self) -> None:
        """Deliver the waiting state now (if any) and wait for any send in flight."""
        self._cancel_timer()
        await self._deliver()

    async def aclose(self) -> None:
        """Drop any waiting state and stop the timer."""
        self._cancel_timer()
        self._pending.clear()
