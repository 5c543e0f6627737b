from __future__ import annotations

import pytest

from fusion_eval.verdict import combine_orders, fused_outcome, parse_verdict


@pytest.mark.parametrize(
    ("text", "winner"),
    [
        ('{"reason": "more precise", "winner": "1"}', "1"),
        ('{"winner": "2", "reason": "x"}', "2"),
        ('{"winner": "tie", "reason": "same"}', "tie"),
        ('```json\n{"reason": "r", "winner": "2"}\n```', "2"),
        ('Sure! Here is my verdict: {"reason": "r", "winner": "1"} Hope it helps.', "1"),
        ('{"Winner": 2}', "2"),
        ('{"verdict": "Answer 1"}', "1"),
        ("[[A]]", "1"),
        ("After careful thought the second is better. [[B]]", "2"),
        ("[[C]]", "tie"),
        ("2", "2"),
        ("  tie.  ", "tie"),
        ("Winner: 1\nBecause it cites sources.", "1"),
    ],
)
def test_parses_the_shapes_judges_write(text: str, winner: str) -> None:
    verdict = parse_verdict(text)
    assert verdict.valid
    assert verdict.winner == winner


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("I think both have merits.", "unparseable"),
        ('{"reason": "r", "winner": "3"}', "unknown winner"),
        ('{"reason": "r", "winner": null}', "unknown winner"),
        ("[[A]] ... on reflection [[B]]", "ambiguous"),
        ('{"reason": "r", "winner": "1"', "unparseable"),
    ],
)
def test_malformed_verdicts_are_invalid_not_ties(text: str, problem: str) -> None:
    verdict = parse_verdict(text)
    assert verdict.winner is None
    assert not verdict.valid
    assert verdict.problem is not None
    assert problem in verdict.problem


def test_reason_is_kept() -> None:
    assert parse_verdict('{"reason": "cites the trial", "winner": "1"}').reason == "cites the trial"


@pytest.mark.parametrize(
    ("winner", "position", "outcome"),
    [("1", 1, "win"), ("1", 2, "loss"), ("2", 2, "win"), ("2", 1, "loss"), ("tie", 1, "tie")],
)
def test_outcome_is_seen_from_the_fused_side(winner: str, position: int, outcome: str) -> None:
    verdict = parse_verdict(winner)
    assert fused_outcome(verdict, position) == outcome  # type: ignore[arg-type]


def test_invalid_verdict_gives_invalid_outcome() -> None:
    assert fused_outcome(parse_verdict("no idea"), 1) == "invalid"


@pytest.mark.parametrize(
    ("first", "second", "outcome", "flipped"),
    [
        ("win", "win", "win", False),
        ("loss", "loss", "loss", False),
        ("tie", "tie", "tie", False),
        ("win", "loss", "tie", True),
        ("loss", "win", "tie", True),
        ("win", "tie", "tie", False),
        ("tie", "loss", "tie", False),
        ("win", "invalid", "invalid", False),
        ("invalid", "loss", "invalid", False),
    ],
)
def test_combining_both_orders(first: str, second: str, outcome: str, flipped: bool) -> None:
    assert combine_orders(first, second) == (outcome, flipped)  # type: ignore[arg-type]
