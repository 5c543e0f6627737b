"""A kill storm: do real worker processes SIGKILLed at the worst moments lose or double anything?

Against one embedded ``redis-server`` on loopback started by this script, N jobs (one tenant
each) are enqueued on the saq queue and answered by worker *processes* (the crash tests' entry
point, ``tests/fusion_engine/jobs/worker_entry.py``: the fake engine, 0.25 s per model call,
short heartbeat and leases). Workers pause mid-panel (one member answered), before the writer,
and inside a recovery (their sweep has just aborted a dead worker's job, which saq then holds in
none of its lists); the storm SIGKILLs K of them at those pauses in turn (``panel``, ``writer``,
``recovery``) and starts a replacement for each. Then every job is audited: answers delivered,
the tenant's spend against the sum of what the job's attempts recorded, holds left, jobs still
pending. Expected: 0 lost, 0 double-answered, 0 double-charged, 0 mischarged.

    uv run python -m bench.bench_kill_storm [--jobs 16] [--kills 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from bots.embedded_redis import EmbeddedRedis
from tests.fusion_engine.jobs.storm import StormReport, kill_storm

COLUMNS = (
    "round",
    "jobs",
    "kills (panel/writer/recovery)",
    "answered",
    "lost",
    "double-answered",
    "double-charged",
    "mischarged",
    "left pending",
    "wall",
)


def row(n: int, r: StormReport) -> tuple[str, ...]:
    by_stage = "/".join(str(r.kills[stage]) for stage in ("panel", "writer", "recovery"))
    kills = f"{sum(r.kills.values())} ({by_stage})"
    return (
        str(n),
        str(r.jobs),
        kills,
        str(r.answered),
        str(r.lost),
        str(r.double_answered),
        str(len(r.double_charged)),
        str(len(r.mischarged)),
        str(r.pending_left),
        f"{r.seconds:.1f} s",
    )


async def main(jobs: int, kills: int, rounds: int) -> None:
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "|".join("---:" for _ in COLUMNS) + "|")
    for n in range(1, rounds + 1):
        with (
            tempfile.TemporaryDirectory() as tmp,
            EmbeddedRedis(Path(tmp) / "redis", persist=False) as server,
        ):
            report = await kill_storm(server.url, Path(tmp), jobs=jobs, kills=kills)
        print("| " + " | ".join(row(n, report)) + " |", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=16)
    parser.add_argument("--kills", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.jobs, args.kills, args.rounds))
