from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from fusion_engine.errors import ModelHTTPError
from fusion_engine.llm.base import ChatRequest
from fusion_engine.llm.function import FunctionModelClient, Responder
from fusion_engine.pools import PoolSpec
from fusion_engine.request import FusionRequest
from fusion_engine.result import FusionResult, PanelFailure
from fusion_eval import EvalPlan, EvalProgress, EvalQuestion, default_judges, run_eval
from fusion_eval.runner import EvalRun

from .helpers import JUDGES, POOL, PRICES, FakeFuser, always_first, answers_in, prefers

QUESTIONS = tuple(EvalQuestion(id=f"q{i}", question=f"Question number {i}?") for i in range(3))


async def _run(
    tmp_path: Path,
    judge: Responder,
    *,
    fuser: FakeFuser | None = None,
    plan: EvalPlan | None = None,
    progress: list[EvalProgress] | None = None,
) -> tuple[EvalRun, FakeFuser, FunctionModelClient]:
    fuser = fuser or FakeFuser()
    client = FunctionModelClient(judge, prices=PRICES)
    run = await run_eval(
        plan or EvalPlan(pool=POOL, judges=JUDGES),
        QUESTIONS,
        fuser=fuser,
        client=client,
        prices=PRICES,
        out_dir=tmp_path,
        on_progress=progress.append if progress is not None else None,
    )
    return run, fuser, client


async def test_every_comparison_is_judged_in_both_orders_anonymously(tmp_path: Path) -> None:
    run, fuser, client = await _run(tmp_path, prefers("FUSED"))
    assert len(fuser.fused) == 3
    record = run.records[0]
    # 2 panel models × (1 self judge + 2 independent judges) comparisons, 2 calls each.
    assert len(record.comparisons) == 6
    assert len(client.calls) == 3 * 12
    assert {c.outcome for c in record.comparisons} == {"win"}
    self_judges = {(c.judge, c.model) for c in record.comparisons if c.test == "self_preference"}
    assert self_judges == {("p/alpha", "p/alpha"), ("p/beta", "p/beta")}
    for call in client.calls:
        text = "".join(m.content for m in call.messages)
        assert "p/alpha" not in text
        assert "p/beta" not in text
        assert call.json_schema is not None
    orders = {answers_in(c) for c in client.calls if c.model == "j/one"}
    assert ("FUSED", "ALPHA") in orders
    assert ("ALPHA", "FUSED") in orders


async def test_a_judge_with_position_bias_only_produces_ties(tmp_path: Path) -> None:
    run, _, _ = await _run(tmp_path, always_first)
    comparisons = [c for r in run.records for c in r.comparisons]
    assert comparisons
    assert all(c.outcome == "tie" for c in comparisons)
    assert all(c.flipped for c in comparisons)


async def test_malformed_and_failed_verdicts_are_invalid(tmp_path: Path) -> None:
    def judge(request: ChatRequest) -> str:
        if request.model == "j/one":
            return "I cannot decide."
        if request.model == "j/two":
            raise ModelHTTPError(request.model, 503, "overloaded")
        return prefers("FUSED")(request)

    run, _, _ = await _run(tmp_path, judge)
    by_judge = {c.judge: c for c in run.records[0].comparisons}
    assert by_judge["j/one"].outcome == "invalid"
    assert by_judge["j/one"].orders[0].verdict.problem is not None
    assert by_judge["j/one"].orders[0].raw == "I cannot decide."
    assert by_judge["j/two"].outcome == "invalid"
    assert by_judge["j/two"].orders[0].verdict.problem == "judge call failed (http_503)"
    assert by_judge["p/alpha"].outcome == "win"


async def test_costs_are_charged_and_reported_as_progress(tmp_path: Path) -> None:
    progress: list[EvalProgress] = []
    run, _, _ = await _run(tmp_path, prefers("FUSED"), progress=progress)
    judged = sum(r.judge_cost_micros for r in run.records)
    assert judged > 0
    assert run.spent_micros == 3 * 500 + judged
    assert progress[-1].phase == "done"
    assert progress[-1].finished == progress[-1].total == 3
    assert progress[-1].spent_micros == run.spent_micros
    spent = [p.spent_micros for p in progress]
    assert spent == sorted(spent)
    assert any(p.phase == "compared" for p in progress)


@pytest.mark.parametrize("parallel", [1, 3])
@pytest.mark.parametrize("runs", [1, 2])
async def test_budget_cap_stops_cleanly_before_a_question_that_would_pass_it(
    tmp_path: Path, runs: int, parallel: int
) -> None:
    probe, _, _ = await _run(tmp_path / "probe", prefers("FUSED"))
    actual = probe.records[0].cost_micros
    quote = await _quote_of_one(tmp_path)
    assert actual < quote
    # After ``runs`` questions, the spend plus the next quote passes the cap.
    cap = quote + (runs - 1) * actual + actual // 2
    plan = EvalPlan(pool=POOL, judges=JUDGES, max_micros=cap, parallel_questions=parallel)
    run, fuser, _ = await _run(tmp_path / "capped", prefers("FUSED"), plan=plan)
    assert run.spent_micros <= cap
    assert [r.question_id for r in run.records] == [q.id for q in QUESTIONS[:runs]]
    assert len(fuser.fused) == runs
    assert run.skipped_ids == [q.id for q in QUESTIONS[runs:]]
    assert run.stopped_reason is not None
    assert f"before question q{runs}" in run.stopped_reason


async def _quote_of_one(tmp_path: Path) -> int:
    """The runner's quote for one question, found by capping the spend at zero."""
    plan = EvalPlan(pool=POOL, judges=JUDGES, max_micros=0)
    run, fuser, client = await _run(tmp_path / "zero", prefers("FUSED"), plan=plan)
    assert run.records == []
    assert fuser.fused == []
    assert client.calls == []
    assert run.stopped_reason is not None
    assert run.stopped_quote_micros is not None
    return run.stopped_quote_micros


async def test_resume_skips_cached_questions(tmp_path: Path) -> None:
    first, fuser1, client1 = await _run(tmp_path, prefers("FUSED"))
    second, fuser2, client2 = await _run(tmp_path, prefers("FUSED"))
    assert len(fuser1.fused) == 3
    assert fuser2.fused == []
    assert client2.calls == []
    assert second.cached_ids == ["q0", "q1", "q2"]
    assert second.spent_micros == 0
    assert [r.model_dump() for r in second.records] == [r.model_dump() for r in first.records]
    assert len(client1.calls) > 0


async def test_resume_continues_an_interrupted_eval(tmp_path: Path) -> None:
    class Interrupted(Exception):
        pass

    def fail_on_q1(question: str) -> bool:
        if question == "Question number 1?":
            raise Interrupted
        return False

    with pytest.raises(ExceptionGroup) as caught:
        await _run(tmp_path, prefers("FUSED"), fuser=FakeFuser(fail=fail_on_q1))
    assert caught.group_contains(Interrupted)
    resumed, fuser, _ = await _run(tmp_path, prefers("FUSED"))
    assert resumed.cached_ids == ["q0"]
    assert fuser.fused == ["Question number 1?", "Question number 2?"]
    assert [r.question_id for r in resumed.records] == ["q0", "q1", "q2"]


async def test_a_changed_configuration_does_not_reuse_the_cache(tmp_path: Path) -> None:
    await _run(tmp_path, prefers("FUSED"))
    plan = EvalPlan(pool=POOL, judges=("j/one",))
    run, fuser, _ = await _run(tmp_path, prefers("FUSED"), plan=plan)
    assert run.cached_ids == []
    assert len(fuser.fused) == 3


async def test_failed_fusions_are_reported_and_retried_on_resume(tmp_path: Path) -> None:
    fuser = FakeFuser(fail=lambda q: q == "Question number 2?")
    run, _, _ = await _run(tmp_path, prefers("FUSED"), fuser=fuser)
    assert set(run.failed) == {"q2"}
    assert "only 0 of the panel answered" in run.failed["q2"]
    judged = sum(r.judge_cost_micros for r in run.records)
    assert isinstance(fuser.quote_micros, int)
    assert run.spent_micros == 2 * fuser.cost_micros + judged + fuser.quote_micros
    again, fuser2, _ = await _run(tmp_path, prefers("FUSED"))
    assert again.cached_ids == ["q0", "q1"]
    assert fuser2.fused == ["Question number 2?"]


def test_default_judges_stay_off_the_panel_and_the_writer() -> None:
    other = PoolSpec(
        name="other",
        models=("p/alpha", "x/outsider", "w/writer"),
        judge="p/beta",
        writer="x/outsider",
    )
    assert default_judges(POOL, [other]) == ("j/judge", "x/outsider")
    inside = POOL.model_copy(update={"judge": "p/alpha"})
    assert default_judges(inside) == ("p/alpha",)


async def test_an_unreadable_cache_file_is_recomputed(tmp_path: Path) -> None:
    await _run(tmp_path, prefers("FUSED"))
    files = sorted((tmp_path / "cache").glob("*/q1-*.json"))
    assert len(files) == 1
    files[0].write_text('{"question_id": "q1", "truncat')
    run, fuser, _ = await _run(tmp_path, prefers("FUSED"))
    assert run.cached_ids == ["q0", "q2"]
    assert fuser.fused == ["Question number 1?"]
    assert not list((tmp_path / "cache").glob("*/.tmp-*"))


async def test_questions_run_in_parallel_and_are_reported_in_order(tmp_path: Path) -> None:
    in_flight = 0
    all_started = asyncio.Event()

    class GatedFuser(FakeFuser):
        async def fuse(self, request: FusionRequest) -> FusionResult:
            nonlocal in_flight
            in_flight += 1
            if in_flight == len(QUESTIONS):
                all_started.set()
            await all_started.wait()  # only returns if every question is in flight at once
            return await super().fuse(request)

    plan = EvalPlan(pool=POOL, judges=JUDGES, parallel_questions=len(QUESTIONS))
    async with asyncio.timeout(30):
        run, _, _ = await _run(tmp_path, prefers("FUSED"), fuser=GatedFuser(), plan=plan)
    assert [r.question_id for r in run.records] == ["q0", "q1", "q2"]
    assert all(c.outcome == "win" for r in run.records for c in r.comparisons)


async def test_missing_answers_are_not_compared_and_fallbacks_judge_themselves(
    tmp_path: Path,
) -> None:
    pool = POOL.model_copy(update={"fallbacks": {"p/alpha": ("p/alpha-fb",)}})

    class DegradedFuser(FakeFuser):
        async def fuse(self, request: FusionRequest) -> FusionResult:
            result = await super().fuse(request)
            alpha = result.answers[0].model_copy(update={"served_by": "p/alpha-fb"})
            beta = PanelFailure(
                model="p/beta", reason="timed out", error_kind="timeout", latency_s=1.0
            )
            return result.model_copy(update={"panel": (alpha, beta), "degraded": True})

    plan = EvalPlan(pool=pool, judges=JUDGES)
    run, _, _ = await _run(tmp_path, prefers("FUSED"), fuser=DegradedFuser(), plan=plan)
    pairs = {(c.test, c.judge, c.model) for c in run.records[0].comparisons}
    assert pairs == {
        ("self_preference", "p/alpha-fb", "p/alpha"),
        ("pairwise", "j/one", "p/alpha"),
        ("pairwise", "j/two", "p/alpha"),
    }
