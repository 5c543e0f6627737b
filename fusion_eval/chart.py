"""The win-rate chart (PNG): fused answer's win rate per panel model and overall, per test.

Drawn with matplotlib's Agg backend on an explicit ``Figure`` (no pyplot global state), so it
works headless and in threads. Error bars are the 95% Wilson intervals; hollow diamonds mark the
length-controlled rate where one could be fitted; the dashed line is 50% (no preference).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from fusion_eval.records import TestName
from fusion_eval.report import EvalReport
from fusion_eval.stats import RateSummary

__all__ = ["write_chart"]

_COLORS: dict[TestName, str] = {"pairwise": "#1f77b4", "self_preference": "#ff7f0e"}
_LABELS: dict[TestName, str] = {"pairwise": "independent judges", "self_preference": "self-judged"}


def _short(label: str) -> str:
    return label.rsplit("/", 1)[-1][:28]


def write_chart(report: EvalReport, path: Path) -> Path:
    """Draw the chart to ``path`` and return it."""
    labels = ["overall", *report.panel]
    figure = Figure(figsize=(8, 1.2 + 0.55 * len(labels) * max(1, len(report.tests))))
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
    axes.axvline(0.5, color="grey", linestyle="--", linewidth=1)
    axes.set_yticks(positions, [_short(label) for label in labels])
    axes.invert_yaxis()
    axes.set_xlim(0, 1)
    axes.set_xlabel("fused answer win rate (ties = ½; bars: 95% Wilson CI; ◇ length-controlled)")
    axes.set_title(f"Fusion eval, pool {report.pool}")
    axes.legend(loc="lower right", fontsize="small")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    return path
