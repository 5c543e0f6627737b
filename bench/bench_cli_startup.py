"""How fast does the ``fusion`` CLI start? ``--help``, and ``ask`` up to its first model request.

Each run is a fresh process of the installed console script, timed from just before it is
spawned. The floor is ``python -c "import typer, rich.console"`` (what any Typer + Rich CLI pays),
measured in the same rounds, interleaved with the others so the machine's noise falls on all of
them alike. ``fusion ask`` talks to the loopback fake model server (``tests/fakes/model_server.py``)
run in this process; its first chat request is timestamped on arrival (``time.monotonic``, the
same clock across processes on Linux). A bare two-command Typer app's ``--help`` is shown for
reference: it is what Typer's own rich help costs before Fusion adds anything.

Targets: ``fusion --help`` <= 2x the floor; ``fusion ask``'s first model request <= 3x.

    uv run python -m bench.bench_cli_startup [--rounds 15]
    uv run python -m bench.bench_cli_startup --source /path/to/other/checkout   # before/after
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.bench_fusion import machine
from tests.fakes.judge import analysis_json_for, is_judge_request
from tests.fakes.model_server import FakeModelServer, ModelBehavior

PYTHON = sys.executable
FUSION = str(Path(sys.executable).parent / "fusion")
QUESTION = "What is 6 x 7?"
MODELS = ("bench/a", "bench/b", "bench/c", "bench/judge", "bench/writer")
POOL = """
default_pool = "bench"

[pools.bench]
models = ["bench/a", "bench/b", "bench/c"]
judge = "bench/judge"
writer = "bench/writer"
"""
API_KEY = "bench-key"
BARE_TYPER = """
import sys

import typer

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None if "--plain" in sys.argv else "rich",
)

@app.command()
def one(question: str) -> None:
    '''The first command.'''

@app.command()
def two(name: str) -> None:
    '''The second command.'''

app(sys.argv[1:2])
"""
ASK_LIBRARIES = "import typer, rich.console, pydantic_settings, httpx"
"""What ``fusion ask`` cannot start without: settings, pydantic models, the HTTP client..."""
AIOHTTP = ", httpx_aiohttp"
"""...and the aiohttp transport ``bots.wiring`` gives the shared client."""
FLOOR = "floor: import typer, rich.console"
TARGETS = {"fusion --help": 2.0, "fusion ask: first model request": 3.0}


def _answer(body: dict[str, Any]) -> str:
    if is_judge_request(body):
        prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
        return analysis_json_for(prompt)
    return f"{body['model']} says 42."


async def _run(argv: Sequence[str], env: dict[str, str], cwd: Path) -> float:
    """Seconds from just before the spawn to the process's exit (which must be clean)."""
    start = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *argv,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {err.decode()}")
    return elapsed


async def _ask(
    fusion: Sequence[str], server: FakeModelServer, env: dict[str, str], cwd: Path
) -> tuple[float, float]:
    """``fusion ask``: seconds to its first chat request, and to its exit."""
    server.requests.clear()
    start = time.monotonic()
    total = await _run([*fusion, "ask", QUESTION], env, cwd)
    return server.requests[0].at - start, total


async def measure(rounds: int, source: Path | None) -> dict[str, list[float]]:
    """Every run ``rounds`` times; ``fusion`` from ``source`` (a checkout) instead if given."""
    fusion = [FUSION] if source is None else [PYTHON, "-c", "from bots.cli import main; main()"]
    times: dict[str, list[float]] = {
        FLOOR: [],
        "bare Typer app --help (reference)": [],
        "bare Typer app --help, plain click format (reference)": [],
        "fusion --help": [],
        "libraries: " + ASK_LIBRARIES.removeprefix("import ") + " (reference)": [],
        "libraries: the same + httpx_aiohttp (reference)": [],
        "fusion ask: first model request": [],
        "fusion ask: whole run (reference)": [],
    }
    behaviors = {m: ModelBehavior(text=_answer) for m in MODELS}
    async with FakeModelServer(behaviors, api_key=API_KEY) as server:
        with tempfile.TemporaryDirectory() as tmp:
            cwd = Path(tmp)  # no stray .env
            (cwd / "pools.toml").write_text(POOL)
            (cwd / "bare.py").write_text(BARE_TYPER)
            env = {
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("OPENROUTER_", "FUSION_", "REDIS_", "SLACK_", "DISCORD_"))
            } | {
                "OPENROUTER_BASE_URL": server.base_url,
                "OPENROUTER_API_KEY": API_KEY,
                "FUSION_CONFIG": str(cwd / "pools.toml"),
            }
            if source is not None:
                env["PYTHONPATH"] = str(source)
            floor = [PYTHON, "-c", "import typer, rich.console"]
            await _run(floor, env, cwd)  # warm-up: the OS's file cache, .pyc files
            await _run([*fusion, "--help"], env, cwd)
            await _ask(fusion, server, env, cwd)
            for _ in range(rounds):
                times[FLOOR].append(await _run(floor, env, cwd))
                times["bare Typer app --help (reference)"].append(
                    await _run([PYTHON, "bare.py", "--help"], env, cwd)
                )
                times["bare Typer app --help, plain click format (reference)"].append(
                    await _run([PYTHON, "bare.py", "--help", "--plain"], env, cwd)
                )
                times["fusion --help"].append(await _run([*fusion, "--help"], env, cwd))
                for name, code in (
                    ("libraries: " + ASK_LIBRARIES.removeprefix("import ") + " (reference)", ""),
                    ("libraries: the same + httpx_aiohttp (reference)", AIOHTTP),
                ):
                    times[name].append(await _run([PYTHON, "-c", ASK_LIBRARIES + code], env, cwd))
                first, whole = await _ask(fusion, server, env, cwd)
                times["fusion ask: first model request"].append(first)
                times["fusion ask: whole run (reference)"].append(whole)
    return times


def table(times: dict[str, list[float]]) -> list[str]:
    """Medians, and the median over rounds of each run's ratio to that round's floor (a burst
    of load from elsewhere slows a whole round, so ratios within a round move less)."""
    floors = times[FLOOR]
    lines = [
        "| run | median | min | max | median / floor (min / floor) | target |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, samples in times.items():
        ratio = statistics.median(t / f for t, f in zip(samples, floors, strict=True))
        target = TARGETS.get(name)
        verdict = (
            "" if target is None else f"<= {target:g}x {'met' if ratio <= target else 'MISSED'}"
        )
        lines.append(
            f"| {name} | {statistics.median(samples) * 1000:.0f} ms "
            f"| {min(samples) * 1000:.0f} ms | {max(samples) * 1000:.0f} ms "
            f"| **{ratio:.2f}** ({min(samples) / min(floors):.2f}) | {verdict} |"
        )
    return lines


def cli(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds of every run")
    parser.add_argument("--source", type=Path, help="run `fusion` from this checkout instead")
    args = parser.parse_args(argv)
    rounds = max(1, args.rounds)
    print(f"Machine: {machine()}; load average {os.getloadavg()[0]:.2f} before the runs.")
    where = "the installed `fusion`" if args.source is None else f"`fusion` from {args.source}"
    print(f"{rounds} rounds of {where}, each run a fresh process, interleaved.\n")
    times = asyncio.run(measure(rounds, None if args.source is None else args.source.resolve()))
    print("\n".join(table(times)))


if __name__ == "__main__":
    cli()
