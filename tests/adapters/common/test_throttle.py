from __future__ import annotations

import asyncio

from adapters.common import Coalescer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_first_state_goes_out_at_once_then_only_the_latest() -> None:
    sent: list[int] = []

    async def send(state: int) -> None:
        sent.append(state)

    clock = Clock()
    coalescer: Coalescer[int] = Coalescer(send, interval_s=1.0, clock=clock)
    for i in range(50):
        await coalescer.submit(i)
    assert sent == [0]
    assert coalescer.has_pending
    await coalescer.flush()
    assert sent == [0, 49]
    assert not coalescer.has_pending
    await coalescer.flush()
    assert sent == [0, 49]


async def test_delayed_state_is_delivered_by_the_timer() -> None:
    delivered = asyncio.Event()
    sent: list[str] = []

    async def send(state: str) -> None:
        sent.append(state)
        if len(sent) == 2:
            delivered.set()

    coalescer: Coalescer[str] = Coalescer(send, interval_s=0.01)
    await coalescer.submit("a")
    await coalescer.submit("b")
    await coalescer.submit("c")
    await asyncio.wait_for(delivered.wait(), 5)
    assert sent == ["a", "c"]
    await coalescer.aclose()


async def test_aclose_drops_the_waiting_state() -> None:
    sent: list[int] = []

    async def send(state: int) -> None:
        sent.append(state)

    coalescer: Coalescer[int] = Coalescer(send, interval_s=60)
    await coalescer.submit(1)
    await coalescer.submit(2)
    await coalescer.aclose()
    await coalescer.flush()
    assert sent == [1]
