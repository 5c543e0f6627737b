"""How close to ideal is a fusion, alone and with hundreds running at once?

Runs 1, 50 and 500 concurrent fusions in this process (one shared ``httpx.AsyncClient``, the
real ``OpenAICompatClient`` and ``FusionEngine``) against the loopback fake model server with
fixed latencies, and prints one row per level:

- wall time ÷ ideal, p50 and p95. Ideal is what the configured latencies allow: the slowest
  panel member, then the judge, then the writer's first byte and stream. 1.00 means the engine
  and the client added nothing.
- time to the first fused token (p50, p95), peak RSS, and CPU seconds per fusion.

By default the fake server runs in a subprocess, so its CPU is not counted against the engine;
``--in-process`` serves it from this process's event loop instead. Timings are printed, never
asserted. Run: ``uv run python -m bench.bench_fusion [--levels 1,50,500] [--in-process]``.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fusion_engine.engine import FusionEngine
from fusion_engine.events import Done, WriterDelta
from fusion_engine.http import new_http_client
from fusion_engine.llm.openai_compat import OpenAICompatClient
from fusion_engine.llm.pricing import ModelsPriceSource
from fusion_engine.pools import PoolSpec
from fusion_engine.request import FusionRequest
from tests.fakes.judge import analysis_json_for, is_judge_request
from tests.fakes.model_server import FakeModelServer, ModelBehavior

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
API_KEY = "bench-key"
QUESTION = "Benchmark question {i}: what are the trade-offs of read replicas versus caching?"


def _text(body: dict[str, Any]) -> str:
    if is_judge_request(body):
        prompt = "\n".join(str(m.get("content") or "") for m in body.get("messages", []))
        return analysis_json_for(prompt)
    return f"{body.get('model')} answers: replicas scale reads; caches cut latency. " * 8


def behaviors() -> dict[str, ModelBehavior]:
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
async def fake_server(in_process: bool) -> AsyncIterator[str]:
    """The fake server's base URL, served here or from a child process."""
    if in_process:
        async with FakeModelServer(behaviors(), default=None, api_key=API_KEY) as server:
            yield server.base_url
        return
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.bench_fusion", "--serve", stdout=subprocess.PIPE
    )
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), timeout=60)
        yield line.decode().strip()
    finally:
        child.terminate()
        await child.wait()


async def _serve() -> None:
    async with FakeModelServer(behaviors(), default=None, api_key=API_KEY) as server:
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


def pct(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run_level(engine: FusionEngine, n: int) -> str:
    cpu_before = _cpu_s()
    results = await asyncio.gather(
        *(one_fusion(engine, i) for i in range(n)), return_exceptions=True
    )
    cpu = (_cpu_s() - cpu_before) / n
    samples = [r for r in results if isinstance(r, Sample)]
    errors = [r for r in results if not isinstance(r, Sample)]
    if not samples:
        return f"| {n} | all failed: {errors[0]!r} |"
    ratios = [s.wall_s / IDEAL_S for s in samples]
    firsts = [s.first_token_s for s in samples]
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    degraded = sum(s.degraded for s in samples)
    return (
        f"| {n} | {pct(ratios, 50):.3f} | {pct(ratios, 95):.3f} | {pct(firsts, 50):.2f} s | "
        f"{pct(firsts, 95):.2f} s | {rss_mb:.0f} MB | {cpu * 1000:.1f} ms | "
        f"{len(errors)} / {degraded} |"
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


async def main(levels: Sequence[int], in_process: bool) -> None:
    where = "this process" if in_process else "a subprocess"
    print(f"Machine: {machine()}")
    print(
        f"Fake server in {where}. Panel {', '.join(f'{s:g} s' for s in PANEL_LATENCY_S.values())}"
        f"; judge {JUDGE_LATENCY_S:g} s; writer {WRITER_FIRST_BYTE_S:g} s + "
        f"{WRITER_STREAM_S:.2f} s stream. Ideal {IDEAL_S:.2f} s, first token "
        f"{IDEAL_FIRST_TOKEN_S:.2f} s.\n"
    )
    print(
        "| fusions | wall/ideal p50 | wall/ideal p95 | first token p50 | first token p95 "
        "| peak RSS | CPU / fusion | errors / degraded |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    async with fake_server(in_process) as base_url, new_http_client() as http:
        client = OpenAICompatClient(http, base_url=base_url, api_key=API_KEY)
        prices = ModelsPriceSource(http, base_url=base_url, api_key=API_KEY)
        engine = FusionEngine(client, prices)
        await one_fusion(engine, -1)  # warm-up: price list, first connections, imports
        for n in levels:
            print(await run_level(engine, n), flush=True)


def cli(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--levels", default="1,50,500", help="comma-separated concurrencies")
    parser.add_argument("--in-process", action="store_true", help="serve the fake in-process")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(_serve())
        return
    asyncio.run(main([int(n) for n in args.levels.split(",")], args.in_process))


if __name__ == "__main__":
    cli()
