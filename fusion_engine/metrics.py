"""Prometheus metrics every long-running process exposes on ``/metrics``.

Why these: they answer the on-call questions — are fusions succeeding, why do they fail, which
stage is slow, what is being spent — without a label per tenant or user (unbounded label values
would blow up the time-series count; tenants are in the logs instead).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from fusion_engine import errors

__all__ = [
    "FAILURES",
    "FUSIONS",
    "JOB_EVENTS",
    "SPEND_MICROS",
    "STAGE_SECONDS",
    "SUBMIT_SECONDS",
    "failure_reason",
]

FUSIONS = Counter(
    "fusion_fusions_total", "Fusions finished, by outcome (ok, degraded, error).", ["outcome"]
)
FAILURES = Counter(
    "fusion_failures_total",
    "Requests refused or fusions failed, by reason (budget, rate_limited, unavailable, "
    "quorum, input, error).",
    ["reason"],
)
STAGE_SECONDS = Histogram(
    "fusion_stage_seconds",
    "Latency per stage (panel, judge, writer, total).",
    ["stage"],
    buckets=(0.5, 1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300),
)
SUBMIT_SECONDS = Histogram(
    "fusion_submit_seconds",
    "Ack-path latency: rate limit, quote, reserve and enqueue.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
SPEND_MICROS = Counter("fusion_spend_micros_total", "Micro-dollars settled to budgets.")
JOB_EVENTS = Counter(
    "fusion_job_events_total",
    "Job lifecycle (started, redelivered, skipped_done, busy, handed_back).",
    ["event"],
)


def failure_reason(error: BaseException) -> str:
    """A short, bounded label for ``error``."""

    table: tuple[tuple[type[BaseException], str], ...] = (
        (errors.BudgetExceeded, "budget"),
        (errors.RateLimited, "rate_limited"),
        (errors.UnavailableError, "unavailable"),
        (errors.QuorumError, "quorum"),
        (errors.InputError, "input"),
        (errors.ConfigError, "config"),
        (errors.ModelCallError, "model"),
    )
    for kind, label in table:
        if isinstance(error, kind):
            return label
    return "error"
