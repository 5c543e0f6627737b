"""What does reading a realistic stream cost Fusion, per chunk and per fusion?

Real OpenAI-compatible providers send about one SSE event per token, so a fusion at realistic
lengths (4 panel answers of ~800 tokens, a judge of ~1,000, a writer of ~1,200) reads ~5,000
events. This prints, in one run, against the fake model server in a child process
(``bench.bench_fusion --serve --realistic``; its CPU is not counted):

1. Client CPU per 1,000 chunks, ``--streams`` concurrent streams of ``READER_TOKENS`` events
   (one event per write, ``READER_TOKENS_PER_S`` a stream), read by:
   - **bare aiohttp**: an ``aiohttp.ClientSession`` reading each network read as it comes
     (``iter_any``), splitting events at blank lines, parsing each ``data:`` payload with
     pydantic-core's ``from_json`` (the fastest JSON parser installed, as Fusion uses)
     and taking its text (the least any SSE reader does): the reference;
   - **bare httpx**: the shared client (``fusion_engine.http.new_http_client``) reading the raw
     bytes and doing nothing else: what the client library alone costs;
   - **Fusion**: ``OpenAICompatClient.complete`` over the shared client, as ``bots.wiring``
     builds it (SSE parsing, chunk checks, the output cap, usage).
   Rounds alternate the readers; each figure is the median over ``--rounds``; the ratio is
   against the bare aiohttp reader of the same run.
2. CPU per fusion and fusions per second per core: ``--fusions`` concurrent fusions through the
   real ``FusionEngine`` at realistic lengths (``bench_fusion --realistic``'s streams).

CPU is this process's ``time.process_time`` (user + system), with the GC tuned as every
process that runs fusions tunes it. The 1/50/500 table at realistic lengths is
``uv run python -m bench.bench_fusion --realistic``. Printed, never asserted.

Run: ``uv run python -m bench.bench_streams [--streams 8] [--rounds 5] [--fusions 20]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence

import aiohttp
import httpx
from pydantic_core import from_json

from bench.bench_fusion import (
    API_KEY,
    LENGTHS,
    POOL,
    READER,
    READER_TOKENS,
    READER_TOKENS_PER_S,
    fake_server,
    machine,
    one_fusion,
    stack,
)
from fusion_engine.http import new_http_client, tune_gc
from fusion_engine.llm.base import ChatMessage, ChatRequest
from fusion_engine.llm.openai_compat import OpenAICompatClient

CHUNKS_PER_STREAM = READER_TOKENS + 1
"""One event per token, and the last one with the usage."""
_REQUEST = ChatRequest(
    model=READER,
    messages=(ChatMessage(role="user", content="Stream a long answer."),),
    max_tokens=4 * READER_TOKENS,
    timeout_s=120,
)
_BODY = json.dumps(
    {
        "model": READER,
        "messages": [{"role": "user", "content": "Stream a long answer."}],
        "stream": True,
        "max_tokens": 4 * READER_TOKENS,
    }
).encode()
_HEADERS = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}

Reader = Callable[[], Awaitable[int]]
"""Reads one stream, returns the number of chunks it held."""


def bare_aiohttp(session: aiohttp.ClientSession, url: str) -> Reader:
    async def read() -> int:
        chunks = 0
        pending = b""
        async with session.post(url, data=_BODY, headers=_HEADERS) as response:
            async for data in response.content.iter_any():
                *events, pending = (pending + data).split(b"\n\n")
                for event in events:
                    if not event.startswith(b"data: "):
                        continue
                    payload = event[6:]
                    if payload == b"[DONE]":
                        return chunks
                    choices = from_json(payload).get("choices") or [{}]
                    choices[0].get("delta", {}).get("content")
                    chunks += 1
        return chunks

    return read


def bare_httpx(http: httpx.AsyncClient, url: str) -> Reader:
    async def read() -> int:
        async with http.stream("POST", url, content=_BODY, headers=_HEADERS) as response:
            async for _ in response.aiter_raw():
                pass
        return CHUNKS_PER_STREAM

    return read


def fusion_reader(client: OpenAICompatClient) -> Reader:
    async def read() -> int:
        completion = await client.complete(_REQUEST)
        assert completion.usage.completion_tokens == READER_TOKENS, completion.usage
        return CHUNKS_PER_STREAM

    return read


async def _cpu_per_1000(read: Reader, streams: int) -> float:
    started = time.process_time()
    chunks = sum(await asyncio.gather(*(read() for _ in range(streams))))
    return (time.process_time() - started) / chunks * 1000


async def readers_table(base_url: str, streams: int, rounds: int) -> list[str]:
    url = base_url.rstrip("/") + "/chat/completions"
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session, new_http_client() as http:
        client = OpenAICompatClient(http, base_url=base_url, api_key=API_KEY)
        readers = {
            "bare aiohttp (reference)": bare_aiohttp(session, url),
            "bare httpx (shared client, raw bytes)": bare_httpx(http, url),
            "Fusion (OpenAICompatClient)": fusion_reader(client),
        }
        for read in readers.values():  # warm: connections, imports
            await read()
        cpu: dict[str, list[float]] = {name: [] for name in readers}
        for round_ in range(rounds):
            order = list(readers) if round_ % 2 == 0 else list(reversed(readers))
            for name in order:
                cpu[name].append(await _cpu_per_1000(readers[name], streams))
    reference = statistics.median(cpu["bare aiohttp (reference)"])
    rows = [
        "| reader | CPU / 1,000 chunks (median) | min | max | × bare aiohttp |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, values in cpu.items():
        median = statistics.median(values)
        rows.append(
            f"| {name} | {median * 1000:.1f} ms | {min(values) * 1000:.1f} ms "
            f"| {max(values) * 1000:.1f} ms | **{median / reference:.2f}** |"
        )
    return rows


async def fusions_table(base_url: str, fusions: int, rounds: int) -> list[str]:
    async with stack(base_url) as (_, engine):
        await one_fusion(engine, -1)  # warm
        per_fusion: list[float] = []
        walls: list[float] = []
        for _ in range(rounds):
            started, wall = time.process_time(), time.perf_counter()
            samples = await asyncio.gather(*(one_fusion(engine, i) for i in range(fusions)))
            per_fusion.append((time.process_time() - started) / fusions)
            walls.append(time.perf_counter() - wall)
            assert not any(s.degraded for s in samples)
    cpu = statistics.median(per_fusion)
    chunks = LENGTHS.chunks(len(POOL.models))
    return [
        "| fusions at once | chunks / fusion | CPU / fusion (median) | min | max "
        "| fusions / s / core | CPU / 1,000 chunks | wall of a round |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {fusions} | ~{chunks:,} | **{cpu * 1000:.1f} ms** | {min(per_fusion) * 1000:.1f} ms "
        f"| {max(per_fusion) * 1000:.1f} ms | {1 / cpu:.1f} | {cpu / chunks * 1e6:.1f} ms "
        f"| {statistics.median(walls):.1f} s |",
    ]


async def main(streams: int, rounds: int, fusions: int) -> None:
    tune_gc()
    print(f"Machine: {machine()}")
    print(
        f"Readers: {streams} concurrent streams of {CHUNKS_PER_STREAM:,} chunks "
        f"({READER_TOKENS_PER_S:g} events/s each), {rounds} rounds. Fusions: panel "
        f"{LENGTHS.panel} × {len(POOL.models)}, judge {LENGTHS.judge}, writer {LENGTHS.writer} "
        "tokens, one event per token.\n"
    )
    async with fake_server(in_process=False, realistic_streams=True) as base_url:
        for row in await readers_table(base_url, streams, rounds):
            print(row, flush=True)
        print()
        for row in await fusions_table(base_url, fusions, max(1, rounds // 2)):
            print(row, flush=True)


def cli(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--streams", type=int, default=8, help="concurrent streams per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per reader")
    parser.add_argument("--fusions", type=int, default=20, help="concurrent realistic fusions")
    args = parser.parse_args(argv)
    asyncio.run(main(max(1, args.streams), max(1, args.rounds), max(1, args.fusions)))


if __name__ == "__main__":
    cli()
