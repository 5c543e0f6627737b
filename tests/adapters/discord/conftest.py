"""Fixtures for the Discord adapter: the loopback fake Discord, a real Redis, the real bot.

Until the shared service/worker land, ``ScriptedService`` stands in for ``FusionService``: it
records submissions, refuses when told to, and plays a scripted fusion (events, then result)
into the real ``DiscordResponder`` the way the worker does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis

from adapters.common import FusionService
from adapters.discord import DiscordResponder, DiscordRest, DiscordStore, FusionBot, Intake
from adapters.discord.connection import point_at
from fusion_engine.budget.base import BudgetStatus
from fusion_engine.config import FusionConfig, load_config
from fusion_engine.errors import FusionError
from fusion_engine.events import FusionEvent, FusionStarted, MemberFinished
from fusion_engine.jobs.base import FusionJob, ReplyTarget
from fusion_engine.llm.base import Usage
from fusion_engine.money import usd_to_micros
from fusion_engine.request import FusionRequest
from fusion_engine.result import (
    Analysis,
    Contradiction,
    FusionResult,
    PanelAnswer,
    PanelFailure,
    Quote,
    StageCall,
    StageLatency,
    Stance,
)
from tests.fakes.discord_api import FakeDiscord


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


@dataclass(frozen=True)
class Submitted:
    job: FusionJob
    duplicate: bool = False
    quote: Quote = field(default_factory=lambda: Quote(micros=1000))


@dataclass
class ScriptedService:
    """A stand-in ``FusionService`` that plays ``result`` (or ``error``) into the responder."""

    responder: DiscordResponder | None = None
    result: Callable[[FusionRequest], FusionResult] = lambda _r: make_result()
    error: FusionError | None = None
    refuse: FusionError | None = None
    jobs: list[FusionJob] = field(default_factory=list)
    limits: dict[str, tuple[float, float]] = field(default_factory=dict)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    attempts: int = 0
    limit_calls: list[str] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def submit(self, key: str, request: FusionRequest, reply: ReplyTarget) -> Submitted:
        async with self.changed:
            self.attempts += 1
            self.changed.notify_all()
        if self.refuse is not None:
            raise self.refuse
        if any(j.key == key for j in self.jobs):
            return Submitted(next(j for j in self.jobs if j.key == key), duplicate=True)
        job = FusionJob(key=key, request=request, reply=reply, quote_micros=1000)
        self.jobs.append(job)
        task = asyncio.create_task(self._run(job))
        self.tasks.add(task)
        return Submitted(job)

    async def wait_jobs(self, count: int = 1) -> list[FusionJob]:
        """Wait until ``count`` jobs were accepted, then until they were all answered."""
        async with asyncio.timeout(20), self.changed:
            await self.changed.wait_for(lambda: len(self.jobs) >= count)
        while pending := [t for t in self.tasks if not t.done()]:
            await asyncio.gather(*pending)
        return self.jobs

    async def _run(self, job: FusionJob) -> None:
        assert self.responder is not None
        if self.error is not None:
            await self.responder.on_error(job, self.error)
        else:
            result = self.result(job.request)
            events: list[FusionEvent] = [
                FusionStarted(
                    request_id="r1",
                    models=tuple(m.model for m in result.panel),
                    judge="j",
                    writer="w",
                ),
                *(MemberFinished(answer=a) for a in result.answers),
            ]
            for event in events:
                await self.responder.on_event(job, event)
            await self.responder.on_result(job, result, await self.budget(job.reply.tenant))
        self.finished.set()

    async def budget(self, tenant: str) -> BudgetStatus:
        return budget_status(tenant, *self.limits.get(tenant, (5.0, 50.0)))

    async def set_limits(
        self, tenant: str, *, daily_usd: float, monthly_usd: float
    ) -> BudgetStatus:
        self.limits[tenant] = (daily_usd, monthly_usd)
        self.limit_calls.append(tenant)
        return await self.budget(tenant)


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
    service.responder = responder
    return Running(bot, service, responder, task)


async def stop_bot(running: Running) -> None:
    for task in running.service.tasks:
        await task
    await running.bot.close()
    await running.task


@pytest.fixture
async def running(
    fake_discord: FakeDiscord, store: DiscordStore, config: FusionConfig
) -> AsyncIterator[Running]:
    run = await start_bot(fake_discord, ScriptedService(), store, config)
    yield run
    await stop_bot(run)


def question(text: str, pool: str | None = None) -> list[dict[str, object]]:
    options: list[dict[str, object]] = [{"name": "question", "type": 3, "value": text}]
    if pool is not None:
        options.append({"name": "pool", "type": 3, "value": pool})
    return options
