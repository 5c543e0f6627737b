"""``fusion eval``: does the fused answer beat its own panel, judged honestly?

An application of the engine, not part of it: it drives ``fusion_engine`` (and may import it),
and the engine never imports it, so numpy and matplotlib load only for an eval.

Run an eval with :func:`run_eval` (resumable, budget-capped), summarize it with
:func:`build_report`, and write JSON, Markdown and a PNG chart with :func:`write_report`. The
comparison rules are in ``verdict``, the statistics in ``stats``, the spending cap in ``cost_cap``
and the resume cache in ``cache``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fusion_engine.lazy import lazy_face

__all__ = [
    "DEFAULT_QUESTIONS_LICENSE",
    "Comparison",
    "CostCap",
    "EvalPlan",
    "EvalProgress",
    "EvalQuestion",
    "EvalReport",
    "EvalRun",
    "OrderVerdict",
    "PairJudge",
    "ParsedVerdict",
    "QuestionRecord",
    "RateSummary",
    "ReportFiles",
    "ResultCache",
    "build_report",
    "cache_key",
    "combine_orders",
    "default_judges",
    "load_questions",
    "parse_questions",
    "parse_verdict",
    "render_markdown",
    "run_eval",
    "summarize",
    "wilson",
    "write_report",
]

_EXPORTS = {
    "CostCap": "fusion_eval.cost_cap",
    "ResultCache": "fusion_eval.cache",
    "cache_key": "fusion_eval.cache",
    "PairJudge": "fusion_eval.judging",
    "ReportFiles": "fusion_eval.output",
    "write_report": "fusion_eval.output",
    "DEFAULT_QUESTIONS_LICENSE": "fusion_eval.questions",
    "EvalQuestion": "fusion_eval.questions",
    "load_questions": "fusion_eval.questions",
    "parse_questions": "fusion_eval.questions",
    "Comparison": "fusion_eval.records",
    "OrderVerdict": "fusion_eval.records",
    "QuestionRecord": "fusion_eval.records",
    "EvalReport": "fusion_eval.report",
    "build_report": "fusion_eval.report",
    "render_markdown": "fusion_eval.report",
    "EvalPlan": "fusion_eval.runner",
    "EvalProgress": "fusion_eval.runner",
    "EvalRun": "fusion_eval.runner",
    "default_judges": "fusion_eval.runner",
    "run_eval": "fusion_eval.runner",
    "RateSummary": "fusion_eval.stats",
    "summarize": "fusion_eval.stats",
    "wilson": "fusion_eval.stats",
    "ParsedVerdict": "fusion_eval.verdict",
    "combine_orders": "fusion_eval.verdict",
    "parse_verdict": "fusion_eval.verdict",
}

if TYPE_CHECKING:
    from fusion_eval.cache import ResultCache, cache_key
    from fusion_eval.cost_cap import CostCap
    from fusion_eval.judging import PairJudge
    from fusion_eval.output import ReportFiles, write_report
    from fusion_eval.questions import (
        DEFAULT_QUESTIONS_LICENSE,
        EvalQuestion,
        load_questions,
        parse_questions,
    )
    from fusion_eval.records import Comparison, OrderVerdict, QuestionRecord
    from fusion_eval.report import EvalReport, build_report, render_markdown
    from fusion_eval.runner import (
        EvalPlan,
        EvalProgress,
        EvalRun,
        default_judges,
        run_eval,
    )
    from fusion_eval.stats import RateSummary, summarize, wilson
    from fusion_eval.verdict import ParsedVerdict, combine_orders, parse_verdict
else:
    __getattr__, __dir__ = lazy_face(__name__, _EXPORTS)
