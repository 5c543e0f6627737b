"""``fusion eval``'s core: does the fused answer beat its own panel, judged honestly?

Run an eval with :func:`run_eval` (resumable, budget-capped), summarize it with
:func:`build_report`, and write JSON, Markdown and a PNG chart with :func:`write_report`. The
comparison rules are in ``verdict``, the statistics in ``stats``, the spending cap in ``budget``
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
    "Fuser",
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
    "CostCap": "fusion_engine.eval.budget",
    "ResultCache": "fusion_engine.eval.cache",
    "cache_key": "fusion_engine.eval.cache",
    "PairJudge": "fusion_engine.eval.judging",
    "ReportFiles": "fusion_engine.eval.output",
    "write_report": "fusion_engine.eval.output",
    "DEFAULT_QUESTIONS_LICENSE": "fusion_engine.eval.questions",
    "EvalQuestion": "fusion_engine.eval.questions",
    "load_questions": "fusion_engine.eval.questions",
    "parse_questions": "fusion_engine.eval.questions",
    "Comparison": "fusion_engine.eval.records",
    "OrderVerdict": "fusion_engine.eval.records",
    "QuestionRecord": "fusion_engine.eval.records",
    "EvalReport": "fusion_engine.eval.report",
    "build_report": "fusion_engine.eval.report",
    "render_markdown": "fusion_engine.eval.report",
    "EvalPlan": "fusion_engine.eval.runner",
    "EvalProgress": "fusion_engine.eval.runner",
    "EvalRun": "fusion_engine.eval.runner",
    "Fuser": "fusion_engine.eval.runner",
    "default_judges": "fusion_engine.eval.runner",
    "run_eval": "fusion_engine.eval.runner",
    "RateSummary": "fusion_engine.eval.stats",
    "summarize": "fusion_engine.eval.stats",
    "wilson": "fusion_engine.eval.stats",
    "ParsedVerdict": "fusion_engine.eval.verdict",
    "combine_orders": "fusion_engine.eval.verdict",
    "parse_verdict": "fusion_engine.eval.verdict",
}

if TYPE_CHECKING:
    from fusion_engine.eval.budget import CostCap
    from fusion_engine.eval.cache import ResultCache, cache_key
    from fusion_engine.eval.judging import PairJudge
    from fusion_engine.eval.output import ReportFiles, write_report
    from fusion_engine.eval.questions import (
        DEFAULT_QUESTIONS_LICENSE,
        EvalQuestion,
        load_questions,
        parse_questions,
    )
    from fusion_engine.eval.records import Comparison, OrderVerdict, QuestionRecord
    from fusion_engine.eval.report import EvalReport, build_report, render_markdown
    from fusion_engine.eval.runner import (
        EvalPlan,
        EvalProgress,
        EvalRun,
        Fuser,
        default_judges,
        run_eval,
    )
    from fusion_engine.eval.stats import RateSummary, summarize, wilson
    from fusion_engine.eval.verdict import ParsedVerdict, combine_orders, parse_verdict
else:
    __getattr__, __dir__ = lazy_face(__name__, _EXPORTS)
