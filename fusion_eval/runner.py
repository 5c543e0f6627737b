"""Running an eval: fuse each question, then have judges compare the fused answer with the panel.

Per question, in order: read it back from the resume cache if it is there; otherwise quote the
fusion (``quote``) plus every judge call it will need (answers assumed at their token caps,
so the quote is an upper bound) and stop cleanly, skipping the rest, when that quote would take
this run past ``max_micros``; otherwise fuse, run the comparisons concurrently (bounded), save
the record, and report progress with the running cost. Up to ``parallel_questions`` questions
run at once, started in order; each holds a reservation of its whole quote until it ends, and a
question that does not fit beside them waits for them to finish before the cap decides, so the
cap means the same thing at any parallelism.

A fusion that fails on purpose (``FusionError``, e.g. too few panel answers) is recorded as a
failed question and the eval goes on; it is not cached, so a rerun tries it again. Its actual
cost is not reported back, so the cap is charged its quote (an upper bound) instead. Judge-call
failures become invalid verdicts inside the record (see ``judging``). Anything else is a bug and
propagates; questions finished before it stay cached.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from fusion_engine.allowance import UNLIMITED
from fusion_engine.errors import FusionError
from fusion_engine.llm.base import ModelClient, PriceSource
from fusion_engine.money import format_usd
from fusion_engine.pools import PoolSpec
from fusion_engine.port import EnginePort, consume
from fusion_engine.request import FusionRequest
from fusion_engine.result import FusionResult, PanelAnswer
from fusion_eval.cache import ResultCache, cache_key
from fusion_eval.cost_cap import CostCap
from fusion_eval.judging import PairJudge
from fusion_eval.questions import EvalQuestion
from fusion_eval.records import Comparison, QuestionRecord, TestName

__all__ = [
    "EvalPlan",
    "EvalProgress",
    "EvalRun",
    "default_judges",
    "run_eval",
]


def default_judges(
    pool: PoolSpec, others: Iterable[PoolSpec] = (), *, count: int = 2
) -> tuple[str, ...]:
    """Independent judges: models outside the panel and not the writer, where possible.

    Candidates in order: the pool's judge and judge fallback, then other pools' judges and
    models. The writer is excluded because it wrote the fused answer. When nothing qualifies,
    the pool's judge is used (the report then notes the judge is not independent).
    """
    excluded = set(pool.models) | {pool.writer}
    candidates: list[str] = [pool.judge, *([pool.judge_fallback] if pool.judge_fallback else [])]
    for other in others:
        candidates += [other.judge, *([other.judge_fallback] if other.judge_fallback else [])]
    for other in others:
        candidates += list(other.models)
    chosen = [m for m in dict.fromkeys(candidates) if m not in excluded][:count]
    return tuple(chosen) or (pool.judge,)


@dataclass(frozen=True)
class EvalPlan:
    """What to evaluate. ``max_micros`` is this run's spending cap (``None``: no cap)."""

    pool: PoolSpec
    judges: tuple[str, ...]
    self_preference: bool = True
    max_micros: int | None = None
    concurrency: int = 8
    """Comparisons judged at the same time within one question."""
    parallel_questions: int = 1
    """Questions fused and judged at the same time."""

    @property
    def cache_key(self) -> str:
        return cache_key(self.pool, self.judges, self_preference=self.self_preference)


Phase = Literal["cached", "fusing", "judging", "compared", "done", "failed", "skipped"]


@dataclass(frozen=True)
class EvalProgress:
    """One progress report. ``spent_micros`` is what this run has spent so far."""

    phase: Phase
    question_id: str
    finished: int
    """Questions settled so far (done, cached, failed or skipped)."""
    total: int
    spent_micros: int
    comparisons_done: int = 0
    comparisons_total: int = 0


@dataclass
class EvalRun:
    """What ran. ``records`` holds both fresh and cached questions, in question order."""

    plan: EvalPlan
    questions: tuple[EvalQuestion, ...]
    records: list[QuestionRecord] = field(default_factory=list)
    cached_ids: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped_ids: list[str] = field(default_factory=list)
    stopped_reason: str | None = None
    stopped_quote_micros: int | None = None
    """The quote of the question the cap stopped before."""
    spent_micros: int = 0
    elapsed_s: float = 0.0
    unpriced: tuple[str, ...] = ()


def _self_judge(pool: PoolSpec, answer: PanelAnswer) -> str:
    """Who wrote this answer: the pool slug, or the fallback slug that stood in for it."""
    if answer.served_by in pool.fallbacks.get(answer.model, ()):
        return answer.served_by
    return answer.model


def _pairs(plan: EvalPlan, models: Iterable[tuple[str, str]]) -> list[tuple[TestName, str, str]]:
    """(test, judge, compared model) for every comparison; ``models`` is (model, author)."""
    pairs: list[tuple[TestName, str, str]] = []
    for model, author in models:
        if plan.self_preference:
            pairs.append(("self_preference", author, model))
        pairs += [("pairwise", judge, model) for judge in plan.judges if judge != author]
    return pairs


class _Runner:
    def __init__(
        self,
        fuser: EnginePort,
        judge: PairJudge,
        run: EvalRun,
        cache: ResultCache,
        on_progress: Callable[[EvalProgress], None] | None,
    ) -> None:
        self.fuser = fuser
        self.judge = judge
        self.run = run
        self.cache = cache
        self.on_progress = on_progress
        self.cap = CostCap(run.plan.max_micros)
        self.finished = 0

    def emit(self, phase: Phase, qid: str, done: int = 0, total: int = 0) -> None:
        if phase in ("cached", "done", "failed", "skipped"):
            self.finished += 1
        if self.on_progress is not None:
            self.on_progress(
                EvalProgress(
                    phase=phase,
                    question_id=qid,
                    finished=self.finished,
                    total=len(self.run.questions),
                    spent_micros=self.cap.spent_micros,
                    comparisons_done=done,
                    comparisons_total=total,
                )
            )

    async def quote(self, request: FusionRequest) -> tuple[int, int]:
        """Upper estimates of one question's fusion and of every judge call it may need."""
        pool = self.run.plan.pool
        fusion = await self.fuser.quote(request)
        self.cap.unpriced.update(fusion.unpriced)
        longest = "x" * (3 * max(pool.max_output_tokens, pool.writer_max_tokens))
        judging = 0
        for _, judge, _model in _pairs(self.run.plan, ((m, m) for m in pool.models)):
            one, priced = await self.judge.quote(judge, request.question, longest, longest)
            if not priced:
                self.cap.unpriced.add(judge)
            judging += one
        return fusion.micros, judging

    async def schedule(
        self,
        item: EvalQuestion,
        group: asyncio.TaskGroup,
        slots: asyncio.Semaphore,
        running: set[asyncio.Task[None]],
    ) -> None:
        """Settle ``item`` from the cache or the cap, or start it once a slot is free."""
        plan, run = self.run.plan, self.run
        cached = self.cache.load(item)
        if cached is not None:
            run.records.append(cached)
            run.cached_ids.append(item.id)
            self.emit("cached", item.id)
            return
        if run.stopped_reason is not None:
            run.skipped_ids.append(item.id)
            self.emit("skipped", item.id)
            return
        await slots.acquire()
        try:
            request = FusionRequest.create(item.question, plan.pool, tenant="eval")
            fusion_quote, judging_quote = await self.quote(request)
            quote = fusion_quote + judging_quote
            if not self.cap.fits(quote) and running:
                # Running questions hold their whole quote; what they leave may make room.
                await asyncio.wait(set(running))
        except BaseException:
            slots.release()
            raise
        if not self.cap.fits(quote):
            slots.release()
            run.stopped_reason = (
                f"stopped before question {item.id}: its quote of {format_usd(quote)} would "
                f"pass the {format_usd(plan.max_micros or 0)} cap with "
                f"{format_usd(self.cap.spent_micros)} already spent"
            )
            run.stopped_quote_micros = quote
            run.skipped_ids.append(item.id)
            self.emit("skipped", item.id)
            return
        self.cap.reserve(quote)
        task = group.create_task(self.execute(item, request, fusion_quote, quote, slots))
        running.add(task)
        task.add_done_callback(running.discard)

    async def execute(
        self,
        item: EvalQuestion,
        request: FusionRequest,
        fusion_quote: int,
        quote: int,
        slots: asyncio.Semaphore,
    ) -> None:
        """Fuse, judge, and save one question; its reservation and slot are freed at the end."""
        try:
            started = time.monotonic()
            self.emit("fusing", item.id)
            try:
                fusion = await consume(self.fuser.run(request, UNLIMITED))
            except FusionError as exc:
                # What a failed fusion spent is not reported back, so its quote is charged.
                self.cap.charge(fusion_quote)
                self.run.failed[item.id] = exc.user_message
                self.emit("failed", item.id)
                return
            self.cap.charge(fusion.cost_micros)
            comparisons = await self.compare(item, fusion)
            record = QuestionRecord(
                question_id=item.id,
                question=item.question,
                cache_key=self.cache.key,
                fusion=fusion,
                comparisons=comparisons,
                elapsed_s=time.monotonic() - started,
            )
            self.cache.save(record, item)
            self.run.records.append(record)
            self.emit("done", item.id)
        finally:
            self.cap.release(quote)
            slots.release()

    async def compare(self, item: EvalQuestion, fusion: FusionResult) -> tuple[Comparison, ...]:
        pool = self.run.plan.pool
        answers = {a.model: a for a in fusion.answers}
        pairs = _pairs(self.run.plan, ((a.model, _self_judge(pool, a)) for a in fusion.answers))
        limit = asyncio.Semaphore(max(1, self.run.plan.concurrency))
        done = 0
        self.emit("judging", item.id, 0, len(pairs))

        async def one(test: TestName, judge: str, model: str) -> Comparison:
            nonlocal done
            async with limit:
                comparison = await self.judge.compare(
                    question_id=item.id,
                    test=test,
                    judge=judge,
                    model=model,
                    question=item.question,
                    fused=fusion.answer,
                    other=answers[model].text,
                )
            self.cap.charge(comparison.cost_micros)
            done += 1
            self.emit("compared", item.id, done, len(pairs))
            return comparison

        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(*pair)) for pair in pairs]
        return tuple(t.result() for t in tasks)


async def run_eval(
    plan: EvalPlan,
    questions: Iterable[EvalQuestion],
    *,
    fuser: EnginePort,
    client: ModelClient,
    prices: PriceSource,
    out_dir: Path,
    on_progress: Callable[[EvalProgress], None] | None = None,
) -> EvalRun:
    """Run (or resume) an eval and return what ran; see the module docstring for the rules.

    Finished questions are cached under ``out_dir`` (see ``cache``), keyed by the plan."""
    run = EvalRun(plan=plan, questions=tuple(questions))
    order = {q.id: i for i, q in enumerate(run.questions)}
    cache = ResultCache(out_dir, plan.cache_key)
    runner = _Runner(fuser, PairJudge(client, prices), run, cache, on_progress)
    started = time.monotonic()
    slots = asyncio.Semaphore(max(1, plan.parallel_questions))
    running: set[asyncio.Task[None]] = set()
    try:
        async with asyncio.TaskGroup() as group:
            for item in run.questions:
                await runner.schedule(item, group, slots, running)
    finally:
        run.records.sort(key=lambda r: order[r.question_id])
        run.spent_micros = runner.cap.spent_micros
        run.elapsed_s = time.monotonic() - started
        run.unpriced = tuple(sorted(runner.cap.unpriced))
    return run
