"""How close to ideal is a fusion, alone and with hundreds running at once?

Runs 1, 50 and 500 concurrent fusions in this process (one shared ``httpx.AsyncClient``, the
real ``OpenAICompatClient`` and ``FusionEngine``) against the loopback fake model server with
fixed latencies, and prints one row per level:

- wall time ÷ ideal, p50 and p95, against two ideals:
  - **configured**: what the fake's latencies allow (the slowest panel member, then the judge,
    then the writer's first byte and stream). 1.00 means nothing on this machine added time.
  - **measured**, in the same run: the same HTTP exchanges (the engine's own request bodies,
    4 panel calls at once, then the judge, then the writer) made by a bare loop over an
    identical shared client and the same server, reading the bytes and doing nothing else.
    Its own ratio to the configured ideal is printed too: it is what the client library, the
    fake server and this machine's cores cost before the engine does anything.
- time to the first fused token (p50, p95), peak RSS, and CPU milliseconds per fusion (this
  process, user + system), for the engine and for the bare loop.

The bare loop and the engine each get their own client. By default each is first warmed by
one untimed run of the engine at that level (the steady state of a service already carrying
that load: connections open); ``--cold`` gives every timed run a new client instead, so every
connection is opened in the burst. Each level runs ``--repeat`` rounds (default 3) of both, in
alternating order, and the percentiles are over all rounds' samples: one 500-fusion burst is
one correlated sample, and single runs moved by ±0.05. The fake server runs in a subprocess
(its CPU is not counted against the engine) and keeps no request log; ``--in-process`` serves
it from this process's event loop instead. The garbage collector is tuned as the bot
processes tune it (``bots.wiring.tune_gc_for_serving``) unless ``--default-gc``. Timings are
printed, never asserted.

``--realistic`` makes the fake stream like a real provider: every answer at a realistic length
(panel ~800 tokens, judge ~1,000, writer ~1,200; ``tests/fakes/realistic.py``), one SSE event
per token at ``REALISTIC_TOKENS_PER_S``, keep-alive comments while a model "thinks", after the
same latencies; the configured ideal then includes each stage's stream time.

Run: ``uv run python -m bench.bench_fusion [--levels 1,50,500] [--repeat 3] [--in-process]
[--cold] [--default-gc] [--realistic]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from bots.wiring import tune_gc_for_serving
from fusion_engine.events import Done, WriterDelta
from fusion_engine.http import new_http_client
from fusion_engine.llm.openai_compat import OpenAICompatClient
from fusion_engine.llm.pricing import ModelsPriceSource
from fusion_engine.pipeline.engine import FusionEngine
from fusion_engine.pools import PoolSpec
from fusion_engine.request import FusionRequest
from tests.fakes.judge import analysis_json_for, is_judge_request
from tests.fakes.model_server import FakeModelServer, ModelBehavior
from tests.fakes.realistic import RoleLengths, realistic

PANEL_LATENCY_S = {"bench/p1": 0.5, "bench/p2": 1.0, "bench/p3": 1.5, "bench/p4": 2.0}
JUDGE, JUDGE_LATENCY_S = "bench/judge", 1.0
WRITER, WRITER_FIRST_BYTE_S = "bench/writer", 0.05
WRITER_TOKENS_PER_S = 400.0
"""The fake sends 20 chunks a second of ``tokens_per_s / 20`` tokens (4 characters) each."""
WRITER_TEXT = ("The fused answer, written steadily. " * 45)[:1600]
_CHUNK_CHARS = round(WRITER_TOKENS_PER_S / 20) * 4
WRITER_STREAM_S = (math.ceil(len(WRITER_TEXT) / _CHUNK_CHARS) - 1) / 20
IDEAL_S = max(PANEL_LATENCY_S.values()) + JUDGE_LATENCY_S + WRITER_FIRST_BYTE_S + WRITER_STREAM_S
IDEAL_FIRST_TOKEN_S = max(PANEL_LATENCY_S.values()) + JUDGE_LATENCY_S + WRITER_FIRST_BYTE_S
REALISTIC_TOKENS_PER_S = 400.0
"""Per stream, with ``--realistic`` (one event per token; ~2 s for a panel answer)."""
LENGTHS = RoleLengths()
READER = "bench/reader"
"""With ``--realistic``: a model with no latency whose answers are ``READER_TOKENS`` long, for
``bench_streams``' readers."""
READER_TOKENS, READER_TOKENS_PER_S = 2000, 1000.0
API_KEY = "bench-key"
DEFAULT_GC_THRESHOLDS = (700, 10, 10)
"""CPython's, for ``--default-gc``."""
QUESTION = "Benchmark question {i}: what are the trade-offs of read replicas versus caching?"


def _text(body: dict[str, Any]) -> str:
    if is_judge_request(body):
        prompt = "\n".join(str(m.get("content") or "") for m in body.get("messages", []))
        return analysis_json_for(prompt)
    return f"{body.get('model')} answers: replicas scale reads; caches cut latency. " * 8


def ideal_s(realistic_streams: bool) -> tuple[float, float]:
    """The configured ideal of one fusion: (whole, first fused token), in seconds."""
    if not realistic_streams:
        return IDEAL_S, IDEAL_FIRST_TOKEN_S
    speed = REALISTIC_TOKENS_PER_S
    panel = max(PANEL_LATENCY_S.values()) + LENGTHS.panel / speed
    first = panel + JUDGE_LATENCY_S + LENGTHS.judge / speed + WRITER_FIRST_BYTE_S
    return first + LENGTHS.writer / speed, first


def behaviors(realistic_streams: bool = False) -> dict[str, ModelBehavior]:
    if realistic_streams:
        speed = REALISTIC_TOKENS_PER_S
        latencies = {**PANEL_LATENCY_S, JUDGE: JUDGE_LATENCY_S, WRITER: WRITER_FIRST_BYTE_S}
        out = {m: realistic(LENGTHS, tokens_per_s=speed, latency_s=s) for m, s in latencies.items()}
        out[READER] = realistic(
            RoleLengths(panel=READER_TOKENS), tokens_per_s=READER_TOKENS_PER_S, keepalive_s=None
        )
        return out
    out = {m: ModelBehavior(text=_text, latency_s=s) for m, s in PANEL_LATENCY_S.items()}
    out[JUDGE] = ModelBehavior(text=_text, latency_s=JUDGE_LATENCY_S)
    out[WRITER] = ModelBehavior(
        text=WRITER_TEXT, latency_s=WRITER_FIRST_BYTE_S, tokens_per_s=WRITER_TOKENS_PER_S
    )
    return out


POOL = PoolSpec(
    name="bench",
    models=tuple(PANEL_LATENCY_S),
    judge=JUDGE,
    writer=WRITER,
    quorum=len(PANEL_LATENCY_S),
    call_timeout_s=120,
    deadline_s=300,
    max_retries=0,
)


@asynccontextmanager
async def fake_server(in_process: bool, realistic_streams: bool = False) -> AsyncIterator[str]:
    """The fake server's base URL, served here or from a child process."""
    if in_process:
        async with FakeModelServer(
            behaviors(realistic_streams), default=None, api_key=API_KEY, record=False
        ) as server:
            yield server.base_url
        return
    flags = ["--realistic"] if realistic_streams else []
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.bench_fusion", "--serve", *flags, stdout=subprocess.PIPE
    )
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), timeout=60)
        yield line.decode().strip()
    finally:
        child.terminate()
        await child.wait()


async def _serve(realistic_streams: bool) -> None:
    async with FakeModelServer(
        behaviors(realistic_streams), default=None, api_key=API_KEY, record=False
    ) as server:
        print(server.base_url, flush=True)
        await asyncio.Event().wait()


@dataclass(frozen=True)
class Sample:
    wall_s: float
    first_token_s: float
    degraded: bool


async def one_fusion(engine: FusionEngine, i: int) -> Sample:
    request = FusionRequest.create(QUESTION.format(i=i), POOL)
    started = time.perf_counter()
    first: float | None = None
    degraded = True
    async for event in engine.run(request):
        if first is None and isinstance(event, WriterDelta):
            first = time.perf_counter() - started
        elif isinstance(event, Done):
            degraded = event.result.degraded
    wall = time.perf_counter() - started
    return Sample(wall, wall if first is None else first, degraded)


@dataclass(frozen=True)
class Exchanges:
    """The request bodies of one fusion, as the engine sent them (recorded at warm-up)."""

    panel: tuple[bytes, ...]
    judge: bytes
    writer: bytes
    headers: httpx.Headers


async def record_exchanges(http: httpx.AsyncClient, engine: FusionEngine) -> Exchanges:
    """Run one fusion and keep the bodies of its model calls (by model slug)."""
    seen: dict[str, list[bytes]] = {}
    headers = httpx.Headers()

    async def hook(request: httpx.Request) -> None:
        nonlocal headers
        if request.url.path.endswith("/chat/completions"):
            body = request.content
            seen.setdefault(json.loads(body)["model"], []).append(body)
            headers = request.headers.copy()
            del headers["content-length"]  # differs per body: httpx sets it for each request

    http.event_hooks["request"].append(hook)
    try:
        await one_fusion(engine, -1)
    finally:
        http.event_hooks["request"].remove(hook)
    return Exchanges(
        panel=tuple(seen[m][0] for m in PANEL_LATENCY_S),
        judge=seen[JUDGE][0],
        writer=seen[WRITER][0],
        headers=headers,
    )


async def _exchange(http: httpx.AsyncClient, url: str, body: bytes, headers: httpx.Headers) -> None:
    async with http.stream("POST", url, content=body, headers=headers) as response:
        async for _ in response.aiter_raw():
            pass


async def bare_fusion(http: httpx.AsyncClient, url: str, calls: Exchanges) -> Sample:
    """The same exchanges as one fusion, with nothing but the client in between."""
    started = time.perf_counter()
    await asyncio.gather(*(_exchange(http, url, body, calls.headers) for body in calls.panel))
    await _exchange(http, url, calls.judge, calls.headers)
    first = time.perf_counter() - started + WRITER_FIRST_BYTE_S  # the writer's first byte
    await _exchange(http, url, calls.writer, calls.headers)
    return Sample(time.perf_counter() - started, first, False)


def pct(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _timed(runs: Sequence[Awaitable[Sample]]) -> tuple[list[Sample], list[object], float]:
    """Run ``runs`` at once; return the samples, the errors and the CPU seconds per run."""
    cpu_before = _cpu_s()
    results = await asyncio.gather(*runs, return_exceptions=True)
    cpu = (_cpu_s() - cpu_before) / len(runs)
    samples = [r for r in results if isinstance(r, Sample)]
    return samples, [r for r in results if not isinstance(r, Sample)], cpu


@asynccontextmanager
async def stack(base_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, FusionEngine]]:
    """A fresh shared client and the engine over it, with the price list already loaded."""
    async with new_http_client() as http:
        client = OpenAICompatClient(http, base_url=base_url, api_key=API_KEY)
        prices = ModelsPriceSource(http, base_url=base_url, api_key=API_KEY)
        try:
            await prices.price(JUDGE)
            yield http, FusionEngine(client, prices)
        finally:
            await prices.aclose()


async def run_level(
    base_url: str, calls: Exchanges, n: int, cold: bool, repeat: int, ideal: float
) -> str:
    """One row: ``repeat`` rounds of the bare loop and the engine at ``n`` fusions, in
    alternating order (bare first, then engine first, ...) so neither always runs on a server
    that has just been busy; percentiles are over the samples of all rounds.

    Warm: each side keeps one client, first warmed by an untimed engine run at ``n``. Cold:
    each timed run gets a new client, so every connection is opened in the burst.
    """
    url = base_url.rstrip("/") + "/chat/completions"
    bare: list[Sample] = []
    samples: list[Sample] = []
    errors: list[object] = []
    bare_cpu: list[float] = []
    cpu: list[float] = []
    async with AsyncExitStack() as kept:
        sides: dict[str, tuple[httpx.AsyncClient, FusionEngine]] = {}
        if not cold:
            for side in ("bare", "engine"):
                http, engine = await kept.enter_async_context(stack(base_url))
                await asyncio.gather(
                    *(one_fusion(engine, i) for i in range(n)), return_exceptions=True
                )
                sides[side] = http, engine
        for round_ in range(repeat):
            for side in ("bare", "engine") if round_ % 2 == 0 else ("engine", "bare"):
                async with AsyncExitStack() as fresh:
                    http, engine = (
                        await fresh.enter_async_context(stack(base_url)) if cold else sides[side]
                    )
                    if side == "bare":
                        got, failed, used = await _timed(
                            [bare_fusion(http, url, calls) for _ in range(n)]
                        )
                        bare += got
                        bare_cpu.append(used)
                    else:
                        got, failed, used = await _timed([one_fusion(engine, i) for i in range(n)])
                        samples += got
                        cpu.append(used)
                    errors += failed
    if not samples or not bare:
        return f"| {n} | all failed: {errors[0]!r} |"
    walls = [s.wall_s for s in samples]
    floors = [s.wall_s for s in bare]
    firsts = [s.first_token_s for s in samples]
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    degraded = sum(s.degraded for s in samples)
    return (
        f"| {n} | {pct(walls, 50) / ideal:.3f} | {pct(walls, 95) / ideal:.3f} "
        f"| {pct(floors, 50) / ideal:.3f} | {pct(floors, 95) / ideal:.3f} "
        f"| **{pct(walls, 50) / pct(floors, 50):.3f}** "
        f"| **{pct(walls, 95) / pct(floors, 95):.3f}** "
        f"| {pct(firsts, 50):.2f} s | {pct(firsts, 95):.2f} s | {rss_mb:.0f} MB "
        f"| {sum(cpu) / len(cpu) * 1000:.1f} ms | {sum(bare_cpu) / len(bare_cpu) * 1000:.1f} ms "
        f"| {len(errors)} / {degraded} |"
    )


def machine() -> str:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            model = next(
                (line.split(":", 1)[1].strip() for line in info if line.startswith("model name")),
                model,
            )
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


async def main(
    levels: Sequence[int],
    in_process: bool,
    cold: bool,
    default_gc: bool,
    repeat: int,
    realistic_streams: bool = False,
) -> None:
    if not default_gc:
        tune_gc_for_serving()  # as the bot processes do
    where = "this process" if in_process else "a subprocess"
    ideal, first_token = ideal_s(realistic_streams)
    streams = (
        f"realistic streams: one event per token at {REALISTIC_TOKENS_PER_S:g} tokens/s, "
        f"panel {LENGTHS.panel}, judge {LENGTHS.judge}, writer {LENGTHS.writer} tokens"
        if realistic_streams
        else f"writer {WRITER_STREAM_S:.2f} s stream, others in one piece"
    )
    print(f"Machine: {machine()}")
    print(
        f"Fake server in {where}. Panel {', '.join(f'{s:g} s' for s in PANEL_LATENCY_S.values())}"
        f"; judge {JUDGE_LATENCY_S:g} s; writer {WRITER_FIRST_BYTE_S:g} s to first byte; "
        f"{streams}. Ideal {ideal:.2f} s, first token "
        f"{first_token:.2f} s. {'Cold' if cold else 'Warm'} connections. "
        f"{'Default' if default_gc else 'Tuned (as in the bots)'} GC.\n"
    )
    print(
        "| fusions | wall/configured p50 | wall/configured p95 | bare/configured p50 "
        "| bare/configured p95 | **wall/measured p50** | **wall/measured p95** "
        "| first token p50 | first token p95 | peak RSS | CPU / fusion | bare CPU / fusion "
        "| errors / degraded |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    async with fake_server(in_process, realistic_streams) as base_url:
        async with stack(base_url) as (http, engine):
            if default_gc:  # opening the first shared client tuned it, once per process
                gc.unfreeze()
                gc.set_threshold(*DEFAULT_GC_THRESHOLDS)
            await one_fusion(engine, -1)  # warm-up: first connections, imports
            calls = await record_exchanges(http, engine)
        for n in levels:
            print(await run_level(base_url, calls, n, cold, repeat, ideal), flush=True)


def cli(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--levels", default="1,50,500", help="comma-separated concurrencies")
    parser.add_argument("--in-process", action="store_true", help="serve the fake in-process")
    parser.add_argument("--cold", action="store_true", help="no untimed run before each level")
    parser.add_argument(
        "--default-gc", action="store_true", help="keep CPython's GC settings (bots tune them)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed rounds per level")
    parser.add_argument(
        "--realistic", action="store_true", help="stream like a provider, at realistic lengths"
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(_serve(args.realistic))
        return
    levels = [int(n) for n in args.levels.split(",")]
    asyncio.run(
        main(
            levels,
            args.in_process,
            args.cold,
            args.default_gc,
            max(1, args.repeat),
            args.realistic,
        )
    )


if __name__ == "__main__":
    cli()
