"""The win-rate chart (PNG): fused answer's win rate per panel model and overall, per test.

Drawn with matplotlib's Agg backend on an explicit ``Figure`` (no pyplot global state), so it
works headless and in threads. Error bars are the 95% Wilson intervals; hollow diamonds mark the
length-controlled rate where one could be fitted; the dashed line is 50% (no preference). Each
bar carries its n (valid comparisons), and a chart with no rate to draw says why.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from fusion_eval.records import TestName
from fusion_eval.report import EvalReport
from fusion_eval.stats import RateSummary

__all__ = ["draw_chart", "no_data_reason", "write_chart"]

_COLORS: dict[TestName, str] = {"pairwise": "#1f77b4", "self_preference": "#ff7f0e"}
_LABELS: dict[TestName, str] = {"pairwise": "independent judges", "self_preference": "self-judged"}


def _short(label: str) -> str:
    return label.rsplit("/", 1)[-1][:28]


_N_COLUMN = 1.02
"""Where each bar's n is written: right of the 100% mark, where no bar or interval reaches."""


def no_data_reason(report: EvalReport) -> str | None:
    """Why there is no win rate to draw, in words for the chart; ``None`` when there is one."""
    sections = report.tests.values()
    if any(r.win_rate is not None for s in sections for r in (s.overall, *s.per_model)):
        return None
    if report.questions_run + report.questions_cached == 0:
        why = "no question was answered"
        if report.stopped_reason:
            why += f" ({report.stopped_reason})"
        elif report.questions_failed:
            why += f" ({len(report.questions_failed)} failed)"
    else:
        invalid = sum(s.overall.invalid for s in sections)
        why = (
            f"all {invalid} comparisons were invalid (unreadable verdicts or failed judge calls)"
            if invalid
            else "no comparison was judged"
        )
    return f"No win rates to show: {why}.\nSee report.md for details."


def draw_chart(report: EvalReport) -> Figure:
    """The chart as a figure (drawn, not saved): a bar per test and model, each with its n
    (valid comparisons), the legend below the plot so it never covers a bar, and a note
    saying why when there is nothing to draw."""
    labels = ["overall", *report.panel]
    figure = Figure(figsize=(8, 1.6 + 0.55 * len(labels) * max(1, len(report.tests))))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    tests = list(report.tests)
    height = 0.8 / max(1, len(tests))
    positions = np.arange(len(labels))
    for i, test in enumerate(tests):
        section = report.tests[test]
        rows: list[RateSummary] = [section.overall, *section.per_model]
        y = positions + (i - (len(tests) - 1) / 2) * height
        rates = [r.win_rate if r.win_rate is not None else np.nan for r in rows]
        low = [
            max(0.0, r.win_rate - r.ci.low) if r.win_rate is not None and r.ci else 0.0
            for r in rows
        ]
        high = [
            max(0.0, r.ci.high - r.win_rate) if r.win_rate is not None and r.ci else 0.0
            for r in rows
        ]
        axes.barh(
            y,
            rates,
            height=height * 0.9,
            xerr=[low, high],
            color=_COLORS[test],
            alpha=0.85,
            capsize=3,
            label=_LABELS[test],
        )
        lc = [r.length_controlled.win_rate if r.length_controlled else np.nan for r in rows]
        axes.scatter(lc, y, marker="D", facecolors="none", edgecolors="black", zorder=3)
        for row, at in zip(rows, y, strict=True):
            axes.text(_N_COLUMN, at, f"n={row.valid}", va="center", fontsize="small")
    axes.axvline(0.5, color="grey", linestyle="--", linewidth=1)
    axes.axvline(1.0, color="lightgrey", linewidth=0.8)
    axes.set_yticks(positions, [_short(label) for label in labels])
    axes.invert_yaxis()
    axes.set_xlim(0, 1.13)
    axes.set_xticks(np.linspace(0, 1, 6))
    axes.set_xlabel("fused answer win rate (ties = ½; bars: 95% Wilson CI; ◇ length-controlled)")
    axes.set_title(f"Fusion eval, pool {report.pool}")
    reason = no_data_reason(report)
    if reason is not None:
        axes.text(0.5, 0.5, reason, transform=axes.transAxes, ha="center", va="center", wrap=True)
    elif tests:
        axes.legend(
            loc="upper center",
            bbox_to_anchor=(0.5, -0.12),
            ncols=len(tests),
            fontsize="small",
            frameon=False,
        )
    figure.tight_layout()
    return figure


def write_chart(report: EvalReport, path: Path) -> Path:
    """Draw the chart to ``path`` and return it."""
    figure = draw_chart(report)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120, bbox_inches="tight")
    return path
