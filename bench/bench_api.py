"""Does ``fusion serve`` add anything to a fusion? 50 streamed completions through the API
against the same fusions run in-process, in the same run.

Both sides run the same pool (``bench_fusion``'s: 4 panel members at 0.5-2.0 s, a 1.0 s judge,
a writer streaming 1,600 characters over about a second) against the fake model server in a
subprocess, charged to a tenant's budget on a real Redis (a private ``redis-server``):

- **API**: ``open_api`` (the wiring of ``fusion serve``: its own runtime, Redis budgets, key
  store, rate limiter, aiohttp with handler cancellation) on loopback, driven by the official
  ``openai`` client with ``stream=True``. Time to the last token is measured by the client, to
  the end of the stream.
- **In-process**: ``run_charged`` on an engine of its own runtime (another shared client),
  the path ``fusion ask --tenant`` takes; time to ``Done``.

Rounds alternate (API first, then in-process first); percentiles are over every round.
**first delta after writer** is, per API completion, the time from the writer's first token
reaching the server's engine (stamped by an engine wrapper, same clock, same process) to the
client's first content delta. Timings are printed, never asserted. Run:
``uv run python -m bench.bench_api [--n 50] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import openai

from adapters.api import ApiKeyStore
from bench.bench_fusion import (
    API_KEY,
    JUDGE,
    PANEL_LATENCY_S,
    QUESTION,
    WRITER,
    fake_server,
    machine,
    pct,
)
from bots.commands.serve import open_api
from bots.embedded_redis import EmbeddedRedis
from bots.settings import Settings
from bots.wiring import Runtime, tune_gc_for_serving
from fusion_engine.allowance import SpendGuard
from fusion_engine.budget.redis_store import RedisBudgetStore
from fusion_engine.events import FusionEvent, WriterDelta
from fusion_engine.port import EnginePort
from fusion_engine.redis_guard import connect_redis
from fusion_engine.request import FusionRequest
from fusion_engine.result import Quote
from fusion_engine.service import run_charged

TENANT = "bench"
POOL_FILE = f"""
default_pool = "bench"

[pools.bench]
models = {json.dumps(list(PANEL_LATENCY_S))}
judge = "{JUDGE}"
writer = "{WRITER}"
quorum = {len(PANEL_LATENCY_S)}
call_timeout_s = 120
deadline_s = 300
max_retries = 0
"""


class FirstTokenStamps:
    """An engine wrapper noting when each fusion's writer produced its first token."""

    def __init__(self, inner: EnginePort) -> None:
        self.inner = inner
        self.at: dict[str, float] = {}

    async def quote(self, request: FusionRequest) -> Quote:
        return await self.inner.quote(request)

    async def run(self, request: FusionRequest, guard: SpendGuard) -> AsyncIterator[FusionEvent]:
        events = self.inner.run(request, guard)
        try:
            async for event in events:
                if isinstance(event, WriterDelta):
                    self.at.setdefault(request.question, time.perf_counter())
                yield event
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()  # closing this stream closes (cancels) the engine's


async def through_api(api: openai.AsyncOpenAI, question: str) -> tuple[float, float]:
    """``(time to the last token, when the first content delta arrived)``."""
    started = time.perf_counter()
    first = 0.0
    stream = await api.chat.completions.create(
        model="fusion", messages=[{"role": "user", "content": question}], stream=True
    )
    async for piece in stream:
        if not first and piece.choices and piece.choices[0].delta.content:
            first = time.perf_counter()
    return time.perf_counter() - started, first


async def in_process(
    budgets: RedisBudgetStore, engine: EnginePort, request: FusionRequest
) -> float:
    started = time.perf_counter()
    result = await run_charged(budgets, engine, request, tenant=TENANT)
    assert not result.degraded
    return time.perf_counter() - started


async def main(n: int, repeat: int) -> None:
    tune_gc_for_serving()  # as fusion serve does
    print(f"Machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        pool_path = Path(tmp) / "pools.toml"
        pool_path.write_text(POOL_FILE)
        server = EmbeddedRedis(Path(tmp) / "redis", persist=False)
        server.start()
        try:
            async with fake_server(in_process=False) as base_url:
                settings = Settings(
                    _env_file=None,
                    openrouter_base_url=base_url,
                    openrouter_api_key=API_KEY,
                    fusion_config=pool_path,
                    redis_url=server.url,
                    data_dir=Path(tmp) / "data",
                )
                await _measure(settings, n, repeat)
        finally:
            server.stop()


async def _measure(settings: Settings, n: int, repeat: int) -> None:
    redis = connect_redis(str(settings.redis_url))
    stamps: list[FirstTokenStamps] = []

    def wrap(engine: EnginePort) -> EnginePort:
        stamps.append(FirstTokenStamps(engine))
        return stamps[-1]

    try:
        async with (
            Runtime.open(settings) as rt,
            open_api(
                settings, host="127.0.0.1", port=0, rate_limit="100000/minute", wrap_engine=wrap
            ) as url,
        ):
            budgets = RedisBudgetStore.from_defaults(redis, rt.config.budgets)
            await budgets.set_limits(TENANT, daily_micros=10**12, monthly_micros=10**12)
            secret = (await ApiKeyStore(redis).create(TENANT)).secret
            api = openai.AsyncOpenAI(base_url=url, api_key=secret, max_retries=0, timeout=300)
            pool = rt.config.pool()
            await through_api(api, QUESTION.format(i="warm-api"))
            await in_process(budgets, rt.engine, FusionRequest.create(QUESTION.format(i="w"), pool))
            api_walls: list[float] = []
            local_walls: list[float] = []
            first_deltas: list[float] = []
            errors = 0
            for round_ in range(repeat):
                questions = [QUESTION.format(i=f"{round_}-{i}") for i in range(n)]

                async def api_round(questions: list[str] = questions) -> None:
                    nonlocal errors
                    results = await asyncio.gather(
                        *(through_api(api, q) for q in questions), return_exceptions=True
                    )
                    for q, r in zip(questions, results, strict=True):
                        if isinstance(r, BaseException):
                            errors += 1
                        else:
                            api_walls.append(r[0])
                            first_deltas.append(r[1] - stamps[0].at[q])

                async def local_round(questions: list[str] = questions) -> None:
                    nonlocal errors
                    requests = [FusionRequest.create(q + " (local)", pool) for q in questions]
                    results = await asyncio.gather(
                        *(in_process(budgets, rt.engine, r) for r in requests),
                        return_exceptions=True,
                    )
                    for r in results:
                        if isinstance(r, BaseException):
                            errors += 1
                        else:
                            local_walls.append(r)

                first, second = (
                    (api_round, local_round)
                    if round_ % 2 == 0
                    else (
                        local_round,
                        api_round,
                    )
                )
                await first()
                await second()
            await api.close()
    finally:
        await redis.aclose()
    ratio50 = pct(api_walls, 50) / pct(local_walls, 50)
    ratio95 = pct(api_walls, 95) / pct(local_walls, 95)
    print(f"{n} concurrent streamed completions, {repeat} rounds, errors: {errors}\n")
    print(
        "| completions | API last token p50 / p95 | in-process p50 / p95 | ratio p50 "
        "| **ratio p95** | first delta after writer p50 / p95 / max |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    ms = [1000 * d for d in first_deltas]
    print(
        f"| {len(api_walls)} | {pct(api_walls, 50):.2f} s / {pct(api_walls, 95):.2f} s "
        f"| {pct(local_walls, 50):.2f} s / {pct(local_walls, 95):.2f} s | {ratio50:.3f} "
        f"| **{ratio95:.3f}** | {pct(ms, 50):.1f} / {pct(ms, 95):.1f} / {max(ms):.1f} ms |"
    )


def cli(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=50, help="concurrent completions")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of each")
    args = parser.parse_args(argv)
    asyncio.run(main(args.n, args.repeat))


if __name__ == "__main__":
    cli()
