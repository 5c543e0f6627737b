"""Fixtures for the Discord adapter: the loopback fake Discord, a real Redis, the real bot.

``ScriptedService`` is the real ``FusionService`` (in-memory budgets, queue, worker and ledger)
over a ``ScriptedEngine``, so a question goes the real way, dedupe and charge included, into the
real ``DiscordResponder``; only the fusion itself is scripted.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis

from adapters.common import FusionService
from adapters.discord import DiscordResponder, DiscordRest, DiscordStore, FusionBot, Intake
from adapters.discord.connection import point_at
from fusion_engine.budget.base import BudgetStatus
from fusion_engine.budget.memory import MemoryBudgetStore
from fusion_engine.config import FusionConfig, load_config
from fusion_engine.errors import FusionError
from fusion_engine.events import Done, FusionEvent, FusionStarted, MemberFinished
from fusion_engine.jobs.base import FusionJob, ReplyTarget
from fusion_engine.jobs.memory import MemoryJobQueue
from fusion_engine.jobs.worker import Worker
from fusion_engine.llm.base import Usage
from fusion_engine.money import usd_to_micros
from fusion_engine.ratelimit import UserRateLimiter
from fusion_engine.request import FusionRequest
from fusion_engine.result import (
    Analysis,
    Contradiction,
    FusionResult,
    PanelAnswer,
    PanelFailure,
    StageCall,
    StageLatency,
    Stance,
)
from fusion_engine.scripted import ScriptedEngine
from fusion_engine.service import Accepted
from fusion_engine.service import FusionService as CoreFusionService
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.discord_events import question as question


def make_result(
    answer: str = "The sky is blue because of Rayleigh scattering.",
    *,
    panel_texts: dict[str, str] | None = None,
    failed: dict[str, str] | None = None,
) -> FusionResult:
    texts = panel_texts or {"openai/gpt-5.4": "Rayleigh scattering.", "qwen/qwen3-max": "Blue."}
    panel: list[PanelAnswer | PanelFailure] = [
        PanelAnswer(model=m, served_by=m, text=t, latency_s=1.5, usage=Usage(cost_micros=1200))
        for m, t in texts.items()
    ]
    panel += [
        PanelFailure(model=m, reason=r, error_kind="timeout", latency_s=90.0)
        for m, r in (failed or {}).items()
    ]
    return FusionResult(
        request_id="r1",
        question="why is the sky blue?",
        pool="research",
        answer=answer,
        analysis=Analysis(
            consensus=("Scattering of sunlight",),
            contradictions=(
                Contradiction(
                    topic="role of ozone",
                    stances=(Stance(model="openai/gpt-5.4", position="minor"),),
                ),
            ),
            blind_spots=("sunsets",),
        ),
        panel=tuple(panel),
        judge=None,
        writer=StageCall(model="w", served_by="w", latency_s=1.0, usage=Usage(cost_micros=500)),
        latency=StageLatency(panel_s=1.5, judge_s=1.0, writer_s=1.0, total_s=3.5),
        usage=Usage(cost_micros=2900),
        degraded=bool(failed),
    )


def budget_status(tenant: str, daily_usd: float = 5.0, monthly_usd: float = 50.0) -> BudgetStatus:
    now = datetime.now(UTC)
    return BudgetStatus(
        tenant=tenant,
        daily_limit_micros=usd_to_micros(daily_usd),
        monthly_limit_micros=usd_to_micros(monthly_usd),
        daily_spent_micros=0,
        monthly_spent_micros=0,
        held_micros=0,
        daily_resets_at=now + timedelta(days=1),
        monthly_resets_at=now + timedelta(days=30),
    )


def scripted_events(result: FusionResult) -> list[FusionEvent]:
    """A short fusion: started, each panel answer, then ``Done(result)``."""
    return [
        FusionStarted(
            request_id=result.request_id,
            models=tuple(m.model for m in result.panel),
            judge="j",
            writer="w",
        ),
        *(MemberFinished(answer=a) for a in result.answers),
        Done(result=result),
    ]


class ScriptedService(CoreFusionService):
    """The real service over a ``ScriptedEngine`` that plays ``result`` or fails with ``error``.

    Test hooks: ``refuse`` is raised by ``submit`` before the service runs (a refusal, or a
    bug); ``attempts`` counts submits; ``limits`` and ``limit_calls`` record ``set_limits``."""

    def __init__(self) -> None:
        self.engine = ScriptedEngine(self._fusion, quote=1000)
        self.budgets = MemoryBudgetStore()
        self.queue = MemoryJobQueue()
        super().__init__(
            config=load_config(),
            engine=self.engine,
            budgets=self.budgets,
            queue=self.queue,
            limiter=UserRateLimiter.in_memory("100/minute"),
        )
        self.result: Callable[[FusionRequest], FusionResult] = lambda _r: make_result()
        self.error: FusionError | None = None
        self.refuse: FusionError | None = None
        self.attempts = 0
        self.limits: dict[str, tuple[float, float]] = {}
        self.limit_calls: list[str] = []
        self._changed = asyncio.Condition()

    def answer_through(self, responder: DiscordResponder) -> None:
        self.queue.worker = Worker(
            engine=self.engine, budgets=self.budgets, responders={"discord": responder}
        )

    @property
    def jobs(self) -> list[FusionJob]:
        """The accepted jobs, in order (a duplicate is not a second job)."""
        return list(self.queue.jobs.values())

    def _fusion(self, request: FusionRequest) -> Sequence[FusionEvent | BaseException]:
        if self.error is not None:
            return [self.error]
        return scripted_events(self.result(request))

    async def submit(self, key: str, request: FusionRequest, reply: ReplyTarget) -> Accepted:
        async with self._changed:
            self.attempts += 1
        if self.refuse is not None:
            raise self.refuse
        accepted = await super().submit(key, request, reply)
        async with self._changed:
            self._changed.notify_all()
        return accepted

    async def wait_jobs(self, count: int = 1) -> list[FusionJob]:
        """Wait until ``count`` jobs were accepted, then until they were all answered."""
        async with asyncio.timeout(20), self._changed:
            await self._changed.wait_for(lambda: len(self.jobs) >= count)
        await self.queue.join()
        return self.jobs

    async def set_limits(
        self, tenant: str, *, daily_usd: float, monthly_usd: float
    ) -> BudgetStatus:
        self.limits[tenant] = (daily_usd, monthly_usd)
        self.limit_calls.append(tenant)
        return await super().set_limits(tenant, daily_usd=daily_usd, monthly_usd=monthly_usd)


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        point_at(fake.api_url, fake.gateway_url)
        try:
            yield fake
        finally:
            point_at(None, None)


@pytest.fixture
def config() -> FusionConfig:
    return load_config()


@pytest.fixture
def store(redis_client: aioredis.Redis) -> DiscordStore:
    return DiscordStore(redis_client)


@dataclass
class Running:
    bot: FusionBot
    service: ScriptedService
    responder: DiscordResponder
    task: asyncio.Task[None]


async def connect_bot(
    service: FusionService, store: DiscordStore, config: FusionConfig
) -> tuple[FusionBot, DiscordResponder, asyncio.Task[None]]:
    """The real bot, logged in and ready against the fake, and a responder on its client."""
    bot = FusionBot(Intake(service, config, store), guild_ready_timeout=0.05)
    await bot.login("fake-token")
    task = asyncio.create_task(bot.connect(reconnect=False))
    async with asyncio.timeout(20):
        await bot.wait_until_ready()
    responder = DiscordResponder(DiscordRest(bot.http), store, min_edit_interval_s=0.0)
    return bot, responder, task


async def start_bot(
    fake: FakeDiscord, service: ScriptedService, store: DiscordStore, config: FusionConfig
) -> Running:
    bot, responder, task = await connect_bot(service, store, config)
    service.answer_through(responder)
    return Running(bot, service, responder, task)


async def stop_bot(running: Running) -> None:
    await running.service.queue.join()
    await running.bot.close()
    await running.task


@pytest.fixture
async def running(
    fake_discord: FakeDiscord, store: DiscordStore, config: FusionConfig
) -> AsyncIterator[Running]:
    run = await start_bot(fake_discord, ScriptedService(), store, config)
    yield run
    await stop_bot(run)
