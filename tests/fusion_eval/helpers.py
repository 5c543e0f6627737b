"""In-process seams for eval tests: a scripted engine with hand-built results, and judge fakes."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable

from fusion_engine.errors import QuorumError
from fusion_engine.events import Done, FusionEvent
from fusion_engine.llm.base import ChatRequest, ModelPrice, Usage
from fusion_engine.llm.function import StaticPrices
from fusion_engine.pools import PoolSpec
from fusion_engine.request import FusionRequest
from fusion_engine.result import FusionResult, PanelAnswer, StageCall, StageLatency
from fusion_engine.scripted import ScriptedEngine

POOL = PoolSpec(
    name="tiny",
    models=("p/alpha", "p/beta"),
    judge="j/judge",
    writer="w/writer",
    max_output_tokens=200,
    writer_max_tokens=300,
)
JUDGES = ("j/one", "j/two")
FUSED = "FUSED answer " + "word " * 40
PANEL_TEXT = {"p/alpha": "ALPHA short answer.", "p/beta": "BETA answer " + "word " * 20}

PRICES = StaticPrices(
    {
        m: ModelPrice(prompt_per_mtok=1_000_000, completion_per_mtok=2_000_000)
        for m in (*POOL.models, *JUDGES, POOL.judge, POOL.writer)
    }
)
"""$1 / M prompt tokens and $2 / M completion tokens for every model in these tests."""


class FakeFuser(ScriptedEngine):
    """An engine whose run is ``fuse``'s hand-built result; counts fusions; may fail some
    questions."""

    def __init__(
        self,
        *,
        quote_micros: int = 1_000,
        cost_micros: int = 500,
        fail: Callable[[str], bool] = lambda q: False,
    ) -> None:
        super().__init__(self._play, quote=quote_micros)
        self.quote_micros = quote_micros
        self.cost_micros = cost_micros
        self.fail = fail
        self.fused: list[str] = []

    async def _play(self, request: FusionRequest) -> AsyncIterator[FusionEvent]:
        yield Done(result=await self.fuse(request))

    async def fuse(self, request: FusionRequest) -> FusionResult:
        self.fused.append(request.question)
        if self.fail(request.question):
            raise QuorumError(0, 2, {"p/alpha": "timed out"})
        usage = Usage(prompt_tokens=10, completion_tokens=10, cost_micros=self.cost_micros)
        return FusionResult(
            request_id=request.request_id,
            question=request.question,
            pool=request.pool.name,
            answer=FUSED,
            analysis=None,
            panel=tuple(
                PanelAnswer(model=m, served_by=m, text=PANEL_TEXT[m], latency_s=0.1, usage=usage)
                for m in request.pool.models
            ),
            judge=None,
            writer=StageCall(model="w/writer", served_by="w/writer", latency_s=0.1, usage=usage),
            latency=StageLatency(panel_s=0.1, judge_s=0.1, writer_s=0.1, total_s=0.3),
            usage=usage,
            degraded=False,
        )


def answers_in(request: ChatRequest) -> tuple[str, str]:
    """Which texts sit at positions 1 and 2 of a judge prompt (``FUSED`` / ``ALPHA`` / ``BETA``)."""
    user = request.messages[-1].content
    one = re.search(r"## Answer 1\s+(\S+)", user)
    two = re.search(r"## Answer 2\s+(\S+)", user)
    assert one is not None
    assert two is not None
    return one.group(1), two.group(1)


def prefers(label: str) -> Callable[[ChatRequest], str]:
    """A judge that always picks the answer starting with ``label`` (position-independent)."""

    def judge(request: ChatRequest) -> str:
        one, two = answers_in(request)
        if one == label:
            return '{"reason": "better", "winner": "1"}'
        if two == label:
            return '{"reason": "better", "winner": "2"}'
        return '{"reason": "same", "winner": "tie"}'

    return judge


def always_first(request: ChatRequest) -> str:
    """A judge with pure position bias: it always picks answer 1."""
    return '{"reason": "first is better", "winner": "1"}'
