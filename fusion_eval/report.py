"""The eval report: one frozen model built from an ``EvalRun``, written as JSON and Markdown.

The JSON is the complete record (every count, interval, cost, and the length of every answer);
the Markdown is for people and states the method next to the numbers, including what the numbers
cannot show. The PNG chart is drawn by ``chart``.
"""

from __future__ import annotations

import statistics
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

from fusion_engine.llm.pricing import unpriced_note
from fusion_engine.money import format_usd
from fusion_eval.records import Comparison, QuestionRecord, TestName, word_count
from fusion_eval.runner import EvalRun
from fusion_eval.stats import RateSummary, summarize

__all__ = ["AnswerLength", "EvalReport", "EvalSection", "build_report", "render_markdown"]

_FROZEN = ConfigDict(frozen=True)

METHOD = """\
Each question is fused by the pool, then the fused answer is compared with every panel answer
that came back. **Self-preference test**: each panel model judges its own answer against the fused
one. **Pairwise test**: independent judges compare the fused answer with each panel answer. Both
answers are anonymous ("Answer 1" / "Answer 2") and every comparison is asked in both orders.
The fused answer wins a comparison only when it wins in both orders (likewise for a loss); a
verdict that flips with the order, or a win in one order and a tie in the other, is a tie.
Unparseable verdicts or failed judge calls make the comparison *invalid*: counted, never scored.

**Win rate** = (wins + ties / 2) / valid comparisons, with a 95% Wilson score interval; the
overall row also has a 95% cluster-bootstrap interval that resamples whole questions (seed 0,
2,000 resamples), since the comparisons of one question share its fused answer. **Length
ratio** is fused words / panel-answer words (median). **Length-controlled win rate**: a logistic
regression of the score on log(length ratio), with a weak ridge penalty, read at ratio 1, with a
Wald 95% interval; *slope* > 0 means the judges favoured the longer answer; "–" where lengths
barely varied or there were fewer than 5 comparisons (length cannot then be separated out).
LLM judges are known to prefer longer answers and their own; compare the self-preference and
independent columns, and the raw and length-controlled rates, before trusting either. A fused
answer can also reveal its origin (e.g. "the models agree…"), which anonymization cannot hide."""


class EvalSection(BaseModel):
    model_config = _FROZEN

    overall: RateSummary
    per_model: tuple[RateSummary, ...]
    """One row per panel model: comparisons against that model's answer."""
    per_judge: tuple[RateSummary, ...] = ()


class AnswerLength(BaseModel):
    model_config = _FROZEN

    question_id: str
    model: str
    """A panel model slug, or ``fused``."""
    words: int


class EvalReport(BaseModel):
    model_config = _FROZEN

    generated_at: str
    pool: str
    panel: tuple[str, ...]
    writer: str
    judges: tuple[str, ...]
    judges_independent: bool
    """No independent judge sits on the panel or wrote the fused answer."""
    questions_total: int
    questions_run: int
    questions_cached: int
    questions_failed: dict[str, str]
    questions_skipped: tuple[str, ...]
    stopped_reason: str | None
    max_micros: int | None
    spent_micros: int
    """What this invocation spent (cached work is free)."""
    recorded_micros: int
    """Cost of every question in the report, fresh or cached, fusion plus judging."""
    fusion_micros: int
    judging_micros: int
    unpriced: tuple[str, ...]
    elapsed_s: float
    """Wall time of this invocation."""
    recorded_question_s: float
    """Sum of per-question wall times of every reported question, fresh or cached."""
    tests: dict[TestName, EvalSection]
    lengths: tuple[AnswerLength, ...]
    method: str = METHOD


def _test(comparisons: list[Comparison], panel: tuple[str, ...], test: TestName) -> EvalSection:
    mine = [c for c in comparisons if c.test == test]
    per_judge: tuple[RateSummary, ...] = ()
    if test == "pairwise":
        judges = dict.fromkeys(c.judge for c in mine)
        per_judge = tuple(summarize(j, [c for c in mine if c.judge == j]) for j in judges)
    return EvalSection(
        overall=summarize("overall", mine, bootstrap=True),
        per_model=tuple(summarize(m, [c for c in mine if c.model == m]) for m in panel),
        per_judge=per_judge,
    )


def _lengths(records: list[QuestionRecord]) -> tuple[AnswerLength, ...]:
    rows: list[AnswerLength] = []
    for r in records:
        rows.append(
            AnswerLength(
                question_id=r.question_id, model="fused", words=word_count(r.fusion.answer)
            )
        )
        rows += [
            AnswerLength(question_id=r.question_id, model=a.model, words=word_count(a.text))
            for a in r.fusion.answers
        ]
    return tuple(rows)


def build_report(run: EvalRun, *, now: datetime | None = None) -> EvalReport:
    """Summarize a finished (or stopped) run."""
    plan = run.plan
    order = {q.id: i for i, q in enumerate(run.questions)}
    records = sorted(run.records, key=lambda r: order.get(r.question_id, len(order)))
    comparisons = [c for r in records for c in r.comparisons]
    tests: dict[TestName, EvalSection] = {
        "pairwise": _test(comparisons, plan.pool.models, "pairwise")
    }
    if plan.self_preference:
        tests["self_preference"] = _test(comparisons, plan.pool.models, "self_preference")
    insiders = set(plan.pool.models) | {plan.pool.writer}
    return EvalReport(
        generated_at=(now or datetime.now(UTC)).isoformat(timespec="seconds"),
        pool=plan.pool.name,
        panel=plan.pool.models,
        writer=plan.pool.writer,
        judges=plan.judges,
        judges_independent=not (set(plan.judges) & insiders),
        questions_total=len(run.questions),
        questions_run=len(records) - len(run.cached_ids),
        questions_cached=len(run.cached_ids),
        questions_failed=dict(run.failed),
        questions_skipped=tuple(run.skipped_ids),
        stopped_reason=run.stopped_reason,
        max_micros=plan.max_micros,
        spent_micros=run.spent_micros,
        recorded_micros=sum(r.cost_micros for r in records),
        fusion_micros=sum(r.fusion.cost_micros for r in records),
        judging_micros=sum(r.judge_cost_micros for r in records),
        unpriced=run.unpriced,
        elapsed_s=round(run.elapsed_s, 3),
        recorded_question_s=round(sum(r.elapsed_s for r in records), 3),
        tests=tests,
        lengths=_lengths(records),
    )


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _rate(s: RateSummary) -> str:
    if s.win_rate is None or s.ci is None:
        return "–"
    return f"{_pct(s.win_rate)} ({_pct(s.ci.low)}–{_pct(s.ci.high)})"


def _lc(s: RateSummary) -> str:
    lc = s.length_controlled
    if lc is None:
        return "–"
    return f"{_pct(lc.win_rate)} ({_pct(lc.ci.low)}–{_pct(lc.ci.high)}), slope {lc.slope:+.2f}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(rows: tuple[RateSummary, ...], first: str) -> list[str]:
    lines = [
        f"| {first} | win / tie / loss | invalid | flips | win rate (95% CI) | length ratio "
        "| length-controlled (95% CI) |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in rows:
        ratio = "–" if s.length_ratio_median is None else f"{s.length_ratio_median:.2f}"
        lines.append(
            f"| {_cell(s.label)} | {s.wins} / {s.ties} / {s.losses} | {s.invalid} | {s.flips} "
            f"| {_rate(s)} | {ratio} | {_lc(s)} |"
        )
    return lines


def _length_table(report: EvalReport) -> list[str]:
    lines = ["| answer | answers | median | min | max |", "|---|---|---|---|---|"]
    for model in ("fused", *report.panel):
        words = sorted(row.words for row in report.lengths if row.model == model)
        if words:
            median = statistics.median(words)
            lines.append(
                f"| {_cell(model)} | {len(words)} | {median:g} | {words[0]} | {words[-1]} |"
            )
    return lines


_TITLES: dict[TestName, str] = {
    "self_preference": "Self-preference test (each panel model judges its own answer)",
    "pairwise": "Pairwise test (independent judges)",
}


def render_markdown(report: EvalReport, *, chart_name: str | None = "win_rates.png") -> str:
    """The report for people: settings, costs, one table per test, and the method."""
    out = [
        f"# Fusion eval: pool `{report.pool}`",
        "",
        f"Generated {report.generated_at}. Panel: {', '.join(f'`{m}`' for m in report.panel)}; "
        f"writer `{report.writer}`; independent judges: "
        f"{', '.join(f'`{j}`' for j in report.judges)}"
        + ("" if report.judges_independent else " (**not independent**: on the panel or writer)")
        + ".",
        "",
        f"- Questions: {report.questions_total} in the set; {report.questions_run} run now, "
        f"{report.questions_cached} from the cache, {len(report.questions_failed)} failed, "
        f"{len(report.questions_skipped)} skipped.",
        f"- Cost: {format_usd(report.spent_micros)} spent by this run"
        + (f" (cap {format_usd(report.max_micros)})" if report.max_micros is not None else "")
        + f"; {format_usd(report.recorded_micros)} for all reported questions "
        f"(fusion {format_usd(report.fusion_micros)}, "
        f"judging {format_usd(report.judging_micros)}).",
        f"- Time: {report.elapsed_s:.1f} s for this run; {report.recorded_question_s:.1f} s "
        "summed over all reported questions.",
    ]
    if report.stopped_reason:
        out.append(f"- **Stopped early**: {_cell(report.stopped_reason)}.")
    if report.unpriced:
        out.append(f"- Cost: {unpriced_note(report.unpriced)}.")
    for qid, reason in report.questions_failed.items():
        out.append(f"- Question `{qid}` failed: {_cell(reason)}")
    if chart_name:
        out += ["", f"![Win rates of the fused answer]({chart_name})"]
    for test, section in report.tests.items():
        out += ["", f"## {_TITLES[test]}", ""]
        out += _table((section.overall, *section.per_model), "compared with")
        if section.overall.bootstrap_ci is not None:
            ci = section.overall.bootstrap_ci
            out += ["", f"Overall, cluster bootstrap by question: {_pct(ci.low)}–{_pct(ci.high)}."]
        if section.per_judge:
            out += ["", "By judge:", ""]
            out += _table(section.per_judge, "judge")
    out += ["", "## Answer lengths (words)", "", *_length_table(report)]
    out += ["", "## Method", "", report.method, ""]
    return "\n".join(out)
