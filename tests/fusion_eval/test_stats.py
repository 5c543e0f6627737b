from __future__ import annotations

import math

import pytest

from fusion_eval.records import Comparison, OrderVerdict
from fusion_eval.stats import cluster_bootstrap, length_controlled, summarize, wilson
from fusion_eval.verdict import Outcome, ParsedVerdict


def comparison(
    outcome: Outcome, *, qid: str = "q1", fused: int = 100, other: int = 100
) -> Comparison:
    order = OrderVerdict(fused_position=1, verdict=ParsedVerdict(winner="tie"), outcome="tie")
    return Comparison(
        question_id=qid,
        test="pairwise",
        judge="j",
        model="m",
        orders=(order, order),
        outcome=outcome,
        flipped=False,
        fused_words=fused,
        other_words=other,
    )


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        (8, 10, 0.4902, 0.9433),
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (50, 100, 0.4038, 0.5962),
        (7.5, 10, 0.4422, 0.9190),
    ],
)
def test_wilson_interval_on_known_inputs(successes: float, n: int, low: float, high: float) -> None:
    ci = wilson(successes, n)
    assert ci.low == pytest.approx(low, abs=1e-4)
    assert ci.high == pytest.approx(high, abs=1e-4)


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def test_wilson_always_contains_the_rate() -> None:
    for n in range(1, 200):
        for successes in (0, n / 2, n):
            ci = wilson(successes, n)
            assert 0.0 <= ci.low <= successes / n <= ci.high <= 1.0, (successes, n)


def test_wilson_with_no_data_is_the_whole_range() -> None:
    ci = wilson(0, 0)
    assert (ci.low, ci.high) == (0.0, 1.0)


def test_cluster_bootstrap_resamples_whole_questions() -> None:
    # Two questions: one all wins, one all losses. Resampled means can only be 0, 0.5 or 1,
    # so the 95% interval spans everything, although 6 iid comparisons would look tighter.
    ci = cluster_bootstrap([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    assert ci is not None
    assert (ci.low, ci.high) == (0.0, 1.0)


def test_cluster_bootstrap_is_seeded_and_needs_two_questions() -> None:
    groups = [[1.0, 0.5], [0.0], [1.0, 1.0, 0.0], [0.5]]
    assert cluster_bootstrap(groups, seed=3) == cluster_bootstrap(groups, seed=3)
    assert cluster_bootstrap([[1.0, 0.0]]) is None


def _length_biased() -> tuple[list[float], list[float]]:
    # Fused longer (ratio e^0.7): wins 34 of 40. Fused shorter (e^-0.7): wins 2 of 10.
    scores = [1.0] * 34 + [0.0] * 6 + [1.0] * 2 + [0.0] * 8
    logs = [0.7] * 40 + [-0.7] * 10
    return scores, logs


def test_length_control_matches_the_closed_form_without_penalty() -> None:
    scores, logs = _length_biased()
    fit = length_controlled(scores, logs, ridge=0.0)
    assert fit is not None
    intercept = (logit(34 / 40) + logit(2 / 10)) / 2
    assert fit.win_rate == pytest.approx(1 / (1 + math.exp(-intercept)), abs=1e-6)
    assert fit.slope == pytest.approx((logit(34 / 40) - logit(2 / 10)) / 1.4, abs=1e-6)
    assert fit.ci.low < fit.win_rate < fit.ci.high


def test_length_control_removes_a_length_advantage() -> None:
    scores, logs = _length_biased()
    fit = length_controlled(scores, logs)
    assert fit is not None
    assert sum(scores) / len(scores) == pytest.approx(0.72)
    assert 0.45 < fit.win_rate < 0.6
    assert fit.slope > 1


def test_length_control_stays_finite_when_fused_wins_everything() -> None:
    fit = length_controlled([1.0] * 10, [0.5] * 5 + [-0.5] * 5)
    assert fit is not None
    assert 0.5 < fit.win_rate < 1.0


def test_length_control_needs_lengths_that_vary() -> None:
    assert length_controlled([1.0, 0.0, 1.0, 1.0, 0.5], [0.0] * 5) is None
    assert length_controlled([1.0, 0.0], [0.5, -0.5]) is None


def test_summarize_counts_ties_as_half_and_leaves_invalid_out() -> None:
    items = [
        comparison("win", qid="a"),
        comparison("win", qid="a"),
        comparison("tie", qid="b"),
        comparison("loss", qid="b"),
        comparison("invalid", qid="c"),
    ]
    s = summarize("all", items, bootstrap=True)
    assert (s.wins, s.ties, s.losses, s.invalid) == (2, 1, 1, 1)
    assert s.win_rate == pytest.approx(2.5 / 4)
    assert s.ci == wilson(2.5, 4)
    assert s.bootstrap_ci is not None
    assert s.length_ratio_median == pytest.approx(1.0)
    assert s.length_controlled is None


def test_summarize_with_nothing_valid() -> None:
    s = summarize("none", [comparison("invalid")])
    assert s.win_rate is None
    assert s.ci is None
    assert s.invalid == 1
