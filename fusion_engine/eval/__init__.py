"""``fusion eval``'s core: does the fused answer beat its own panel, judged honestly?

Run an eval with :func:`run_eval` (resumable, budget-capped), summarize it with
:func:`build_report`, and write JSON, Markdown and a PNG chart with :func:`write_report`. The
comparison rules are in ``verdict``, the statistics in ``stats``, the spending cap in ``budget``
and the resume cache in ``cache``.
"""

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
    default_judges,
    run_eval,
)
from fusion_engine.eval.stats import RateSummary, summarize, wilson
from fusion_engine.eval.verdict import ParsedVerdict, combine_orders, parse_verdict

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
