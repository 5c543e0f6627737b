from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

from matplotlib.figure import Figure

from fusion_engine.llm.base import ChatRequest
from fusion_engine.llm.function import FunctionModelClient
from fusion_eval import EvalPlan, EvalQuestion, build_report, run_eval, write_report
from fusion_eval.chart import draw_chart, no_data_reason
from fusion_eval.report import render_markdown

from .helpers import JUDGES, POOL, PRICES, FakeFuser, answers_in, prefers

QUESTIONS = tuple(EvalQuestion(id=f"q{i}", question=f"Question {i}?") for i in range(4))


def _mixed(request: ChatRequest) -> str:
    """Independent judges prefer the fused answer over alpha but not over beta; panel models
    prefer their own answer (self-preference)."""
    one, two = answers_in(request)
    if request.model in POOL.models:
        own = "ALPHA" if request.model == "p/alpha" else "BETA"
        return '{"reason": "", "winner": "%s"}' % ("1" if one == own else "2")
    if "BETA" in (one, two):
        return '{"reason": "", "winner": "%s"}' % ("1" if one == "BETA" else "2")
    return prefers("FUSED")(request)


async def _report(tmp_path: Path, max_micros: int | None = None):  # type: ignore[no-untyped-def]
    run = await run_eval(
        EvalPlan(pool=POOL, judges=JUDGES, max_micros=max_micros),
        QUESTIONS,
        fuser=FakeFuser(),
        client=FunctionModelClient(_mixed, prices=PRICES),
        prices=PRICES,
        out_dir=tmp_path,
    )
    return build_report(run, now=datetime(2026, 1, 2, tzinfo=UTC))


async def test_report_counts_per_model_and_overall(tmp_path: Path) -> None:
    report = await _report(tmp_path)
    pairwise = report.tests["pairwise"]
    alpha, beta = pairwise.per_model
    assert (alpha.label, alpha.wins, alpha.losses) == ("p/alpha", 8, 0)
    assert (beta.label, beta.wins, beta.losses) == ("p/beta", 0, 8)
    assert pairwise.overall.win_rate == 0.5
    assert pairwise.overall.bootstrap_ci is not None
    assert [j.label for j in pairwise.per_judge] == list(JUDGES)
    selfpref = report.tests["self_preference"]
    assert selfpref.overall.losses == 8
    assert selfpref.overall.win_rate == 0.0
    assert report.questions_run == 4
    assert report.spent_micros == report.recorded_micros
    assert report.recorded_micros == report.fusion_micros + report.judging_micros
    assert report.judges_independent
    fused_lengths = [row.words for row in report.lengths if row.model == "fused"]
    assert fused_lengths == [42] * 4
    assert alpha.length_ratio_median == 42 / 3


async def test_report_files_are_written(tmp_path: Path) -> None:
    report = await _report(tmp_path)
    files = write_report(report, tmp_path / "out")
    data = json.loads(files.json.read_text())
    assert data["tests"]["pairwise"]["overall"]["win_rate"] == 0.5
    assert data["method"].startswith("Each question")
    markdown = files.markdown.read_text()
    assert "| p/alpha | 8 / 0 / 0 | 0 | 0 | 100.0% (67.6%–100.0%)" in markdown
    assert "![Win rates of the fused answer](win_rates.png)" in markdown
    assert "| fused | 4 | 42 | 42 | 42 |" in markdown
    assert "| p/alpha | 4 | 3 | 3 | 3 |" in markdown
    assert files.chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list((tmp_path / "out").glob(".*tmp*"))


async def test_a_stopped_eval_says_what_ran_and_what_was_skipped(tmp_path: Path) -> None:
    report = await _report(tmp_path, max_micros=0)
    assert report.questions_run == 0
    assert report.questions_skipped == ("q0", "q1", "q2", "q3")
    markdown = render_markdown(report)
    assert "**Stopped early**: stopped before question q0" in markdown
    assert "4 skipped" in markdown
    assert report.tests["pairwise"].overall.win_rate is None
    files = write_report(report, tmp_path / "empty")
    assert files.chart.exists()


def _drawn_texts(figure: Figure) -> list[str]:
    """The texts actually drawn when the figure is rendered to PNG."""
    png = io.BytesIO()
    figure.savefig(png, format="png")
    assert png.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
    (axes,) = figure.axes
    return [t.get_text() for t in axes.texts if t.get_visible()]


async def test_every_bar_carries_its_n_and_the_legend_sits_below_the_bars(
    tmp_path: Path,
) -> None:
    report = await _report(tmp_path)
    figure = draw_chart(report)
    texts = _drawn_texts(figure)
    # pairwise: overall, p/alpha, p/beta (2 judges x 4 questions each); then self-preference.
    assert texts == ["n=16", "n=8", "n=8", "n=8", "n=4", "n=4"]
    (axes,) = figure.axes
    legend = axes.get_legend()
    assert legend is not None
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    legend_box = legend.get_window_extent(renderer)
    assert legend_box.y1 < axes.get_window_extent(renderer).y0, "the legend is below the plot"


async def test_an_empty_chart_says_why(tmp_path: Path) -> None:
    report = await _report(tmp_path, max_micros=0)
    figure = draw_chart(report)
    note = "No win rates to show: no question was answered (stopped before question q0: "
    (drawn,) = [t for t in _drawn_texts(figure) if not t.startswith("n=")]
    assert drawn.startswith(note)
    assert drawn.endswith(".\nSee report.md for details.")
    (axes,) = figure.axes
    assert axes.get_legend() is None
    assert no_data_reason(await _report(tmp_path)) is None


async def test_unpriced_models_are_explained_in_plain_words(tmp_path: Path) -> None:
    report = (await _report(tmp_path)).model_copy(update={"unpriced": ("x/new",)})
    assert (
        "- Cost: no price listed for x/new, so counted at a cautious $15.00 in / $75.00 out per "
        "million tokens; the real cost is likely lower."
    ) in render_markdown(report)
