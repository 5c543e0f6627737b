"""An in-memory ``JobQueue`` that runs each job through a ``Worker`` in this process.

For tests and tools that want the whole submit → run → deliver path without Redis. Same
dedupe rule as the saq queue: a key is accepted once. ``join`` waits for the jobs to finish.
"""

from __future__ import annotations

import asyncio

from fusion_engine.jobs.base import FusionJob
from fusion_engine.jobs.worker import Worker

__all__ = ["MemoryJobQueue"]


class MemoryJobQueue:
    def __init__(self, worker: Worker | None = None) -> None:
        self.worker = worker
        self.jobs: dict[str, FusionJob] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def enqueue(self, job: FusionJob) -> bool:
        if job.key in self.jobs:
            return False
        self.jobs[job.key] = job
        if self.worker is not None:
            task = asyncio.create_task(self.worker.run_job(job), name=f"job:{job.key}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return True

    async def seen(self, key: str) -> bool:
        return key in self.jobs

    async def join(self) -> None:
        """Wait for every running job; re-raise the first failure (a bug, in a test)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))
