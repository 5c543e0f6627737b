"""Writing a report to ``--out``: ``report.json``, ``report.md`` and ``win_rates.png``.

Each file is written to a temporary name and renamed, so a reader never sees half a report.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from fusion_eval.report import EvalReport, render_markdown

__all__ = ["ReportFiles", "write_report"]


@dataclass(frozen=True)
class ReportFiles:
    json: Path
    markdown: Path
    chart: Path


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_report(report: EvalReport, out_dir: Path) -> ReportFiles:
    """Write the three report files into ``out_dir`` (created if needed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = ReportFiles(
        json=out_dir / "report.json",
        markdown=out_dir / "report.md",
        chart=out_dir / "win_rates.png",
    )
    _write_text(files.json, report.model_dump_json(indent=2) + "\n")
    _write_text(files.markdown, render_markdown(report, chart_name=files.chart.name))
    # matplotlib takes seconds to import; only the report writer pays for it.
    from fusion_eval.chart import write_chart

    tmp_chart = write_chart(report, out_dir / f".{files.chart.name}.tmp.png")
    os.replace(tmp_chart, files.chart)
    return files
