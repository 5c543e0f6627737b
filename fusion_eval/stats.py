"""Win rates with honest uncertainty, and a length-controlled rate beside the raw one.

Conventions, used everywhere in the report:

* A comparison scores 1 when the fused answer wins, 0.5 for a tie (including a verdict that
  flipped with the order), 0 for a loss. Invalid comparisons are counted and shown but left out
  of every rate. The **win rate** is the mean score, i.e. (wins + ties / 2) / valid.
* The 95% interval of a win rate is the **Wilson score interval** evaluated at that mean (ties
  count as half a success), which stays inside [0, 1] and behaves at 0 and 100%.
* The overall rate also gets a **cluster bootstrap by question** (resampling whole questions,
  seeded), because comparisons of one question share its fused answer and are not independent.
* **Length control**: a logistic regression of the score on ``log(fused words / other words)``,
  with a weak ridge penalty so it stays finite when one side wins everything; the
  length-controlled win rate is the fitted rate at a length ratio of 1 (the intercept), with a
  Wald interval. It answers "how often would the fused answer win if it were no longer than the
  answer it is compared with", assuming the effect of length is log-linear.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict

from fusion_eval.records import Comparison

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "Interval",
    "LengthControlled",
    "RateSummary",
    "cluster_bootstrap",
    "length_controlled",
    "score",
    "summarize",
    "wilson",
]

Z_95 = 1.959963984540054
BOOTSTRAP_RESAMPLES = 2_000
RIDGE = 0.1
_MIN_LOG_RATIO_SPREAD = 0.01
_SCORES = {"win": 1.0, "tie": 0.5, "loss": 0.0}


class Interval(BaseModel):
    model_config = ConfigDict(frozen=True)

    low: float
    high: float


def wilson(successes: float, n: int, z: float = Z_95) -> Interval:
    """Wilson score interval for ``successes`` out of ``n`` (``successes`` may be fractional)."""
    if n <= 0:
        return Interval(low=0.0, high=1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # Rounding can put a bound a hair past p itself at 0% or 100%; the interval must contain p.
    return Interval(low=max(0.0, min(p, centre - half)), high=min(1.0, max(p, centre + half)))


def score(comparison: Comparison) -> float | None:
    """1 / 0.5 / 0 from the fused answer's side; ``None`` for an invalid comparison."""
    return _SCORES.get(comparison.outcome)


def cluster_bootstrap(
    groups: Sequence[Sequence[float]], *, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0
) -> Interval | None:
    """Percentile 95% interval of the pooled mean, resampling whole groups (questions)."""
    kept = [g for g in groups if len(g) > 0]
    if len(kept) < 2:
        return None
    sums = np.array([sum(g) for g in kept], dtype=float)
    counts = np.array([len(g) for g in kept], dtype=float)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(kept), size=(resamples, len(kept)))
    means = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    return Interval(low=float(low), high=float(high))


class LengthControlled(BaseModel):
    model_config = ConfigDict(frozen=True)

    win_rate: float
    ci: Interval
    slope: float
    """Change in log-odds of a fused win per unit of log length ratio (> 0: longer wins)."""


def _sigmoid(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-x))
    return out


def length_controlled(
    scores: Sequence[float], log_ratios: Sequence[float], *, ridge: float = RIDGE
) -> LengthControlled | None:
    """Fit score ~ logistic(a + b·log ratio) by penalized Newton steps; ``None`` when the
    lengths barely vary (the slope and intercept cannot be told apart) or there are too few."""
    y = np.asarray(scores, dtype=float)
    x = np.asarray(log_ratios, dtype=float)
    if len(y) < 5 or float(np.std(x)) < _MIN_LOG_RATIO_SPREAD:
        return None
    design = np.column_stack([np.ones_like(x), x])
    beta = np.zeros(2)
    penalty = ridge * np.eye(2)
    hessian = penalty
    for _ in range(50):
        p = _sigmoid(design @ beta)
        gradient = design.T @ (y - p) - penalty @ beta
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + penalty
        step = np.linalg.solve(hessian, gradient)
        beta = beta + step
        if float(np.max(np.abs(step))) < 1e-10:
            break
    p = _sigmoid(design @ beta)
    hessian = design.T @ (design * (p * (1 - p))[:, None]) + penalty
    se = math.sqrt(float(np.linalg.inv(hessian)[0, 0]))
    a, b = float(beta[0]), float(beta[1])
    return LengthControlled(
        win_rate=float(_sigmoid(np.array(a))),
        ci=Interval(
            low=float(_sigmoid(np.array(a - Z_95 * se))),
            high=float(_sigmoid(np.array(a + Z_95 * se))),
        ),
        slope=b,
    )


class RateSummary(BaseModel):
    """Win / tie / loss of the fused answer over a set of comparisons."""

    model_config = ConfigDict(frozen=True)

    label: str
    wins: int
    ties: int
    losses: int
    invalid: int
    flips: int
    """Ties that were order flips (one order said fused, the other said the panel answer)."""
    win_rate: float | None
    """(wins + ties/2) / valid; ``None`` with no valid comparison."""
    ci: Interval | None
    bootstrap_ci: Interval | None = None
    length_ratio_median: float | None
    """Median of fused words / other words."""
    length_controlled: LengthControlled | None

    @property
    def valid(self) -> int:
        return self.wins + self.ties + self.losses


def summarize(
    label: str, comparisons: Sequence[Comparison], *, bootstrap: bool = False
) -> RateSummary:
    """Summarize ``comparisons``; ``bootstrap`` adds the by-question cluster interval."""
    valid = [c for c in comparisons if c.outcome != "invalid"]
    scores = [_SCORES[c.outcome] for c in valid]
    n = len(valid)
    rate = sum(scores) / n if n else None
    groups: dict[str, list[float]] = {}
    for c, s in zip(valid, scores, strict=True):
        groups.setdefault(c.question_id, []).append(s)
    ratios = [c.length_ratio for c in valid]
    return RateSummary(
        label=label,
        wins=sum(c.outcome == "win" for c in valid),
        ties=sum(c.outcome == "tie" for c in valid),
        losses=sum(c.outcome == "loss" for c in valid),
        invalid=len(comparisons) - n,
        flips=sum(c.flipped for c in valid),
        win_rate=rate,
        ci=wilson(sum(scores), n) if n else None,
        bootstrap_ci=cluster_bootstrap(list(groups.values())) if bootstrap else None,
        length_ratio_median=float(np.median(ratios)) if ratios else None,
        length_controlled=length_controlled(scores, [math.log(r) for r in ratios]),
    )
