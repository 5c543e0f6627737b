"""Reading a judge's verdict, and combining the two orders of one comparison.

Judges are asked for JSON (``VERDICT_SCHEMA``) but not every endpoint honours structured output,
so :func:`parse_verdict` also accepts the shapes judges actually write: JSON inside a code fence
or surrounded by prose, MT-Bench style ``[[A]]`` / ``[[B]]`` / ``[[C]]`` tags, and a bare ``1``,
``2`` or ``tie``. Anything else, or a text that names two different winners, is *invalid*: an
invalid verdict is counted and reported, never quietly turned into a tie.

Order effects are handled by asking every comparison twice, with the fused answer first and then
second (:func:`combine_orders`). Following MT-Bench, a side wins only when it wins in both
orders; a verdict that flips with the order is a tie (and is also counted as a flip).
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "VERDICT_SCHEMA",
    "Outcome",
    "ParsedVerdict",
    "Winner",
    "combine_orders",
    "fused_outcome",
    "parse_verdict",
]

Winner = Literal["1", "2", "tie"]
Outcome = Literal["win", "tie", "loss", "invalid"]
"""One comparison, from the fused answer's side."""

VERDICT_SCHEMA: dict[str, Any] = {
    "title": "verdict",
    "type": "object",
    "properties": {
        "reason": {"type": "string", "description": "One or two sentences of justification."},
        "winner": {"type": "string", "enum": ["1", "2", "tie"]},
    },
    "required": ["reason", "winner"],
    "additionalProperties": False,
}

_WINNER_KEYS = ("winner", "verdict", "better", "choice", "preferred", "answer")
_FENCE = re.compile(r"```[a-zA-Z]*\s*(.*?)```", re.DOTALL)
_TAG = re.compile(r"\[\[\s*([^\[\]]{1,12}?)\s*\]\]")
_LABELLED = re.compile(r"\b(?:winner|verdict)\s*[:=]\s*\"?([A-Za-z0-9 ]{1,12})", re.IGNORECASE)
_ALIASES: dict[str, Winner] = {
    "1": "1",
    "a": "1",
    "answer 1": "1",
    "answer a": "1",
    "assistant a": "1",
    "first": "1",
    "2": "2",
    "b": "2",
    "answer 2": "2",
    "answer b": "2",
    "assistant b": "2",
    "second": "2",
    "tie": "tie",
    "c": "tie",
    "draw": "tie",
    "equal": "tie",
    "both": "tie",
    "neither": "tie",
}


class ParsedVerdict(BaseModel):
    """What one judge said about one ordering. ``winner`` is ``None`` when it is invalid."""

    model_config = ConfigDict(frozen=True)

    winner: Winner | None
    reason: str = ""
    problem: str | None = None
    """Why the verdict is invalid (unparseable, ambiguous, the call failed), when it is."""

    @property
    def valid(self) -> bool:
        return self.winner is not None


def _normalize(value: object) -> Winner | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        return None
    key = " ".join(value.strip().strip("\"'.*`").lower().split())
    return _ALIASES.get(key)


def _json_objects(text: str) -> list[dict[str, Any]]:
    """Every JSON object embedded in ``text`` (fenced or not), outermost first."""
    found: list[dict[str, Any]] = []
    decoder = json.JSONDecoder()
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for chunk in candidates:
        start = chunk.find("{")
        while start != -1:
            try:
                value, end = decoder.raw_decode(chunk, start)
            except json.JSONDecodeError:
                start = chunk.find("{", start + 1)
                continue
            if isinstance(value, dict):
                found.append(value)
            start = chunk.find("{", end)
    return found


def _from_json(text: str) -> ParsedVerdict | None:
    for obj in _json_objects(text):
        lowered = {str(k).lower(): v for k, v in obj.items()}
        for key in _WINNER_KEYS:
            if key in lowered:
                winner = _normalize(lowered[key])
                reason = lowered.get("reason", lowered.get("explanation", ""))
                reason_text = reason if isinstance(reason, str) else ""
                if winner is None:
                    return ParsedVerdict(
                        winner=None,
                        reason=reason_text,
                        problem=f"unknown winner {str(lowered[key])[:40]!r}",
                    )
                return ParsedVerdict(winner=winner, reason=reason_text)
    return None


def _single(values: list[str], source: str) -> ParsedVerdict | None:
    winners = {w for w in (_normalize(v) for v in values) if w is not None}
    if len(winners) == 1:
        return ParsedVerdict(winner=winners.pop())
    if len(winners) > 1:
        return ParsedVerdict(winner=None, problem=f"ambiguous: {source} names several winners")
    return None


def parse_verdict(text: str) -> ParsedVerdict:
    """Read a judge's reply; an unreadable or ambiguous reply is an invalid verdict."""
    stripped = text.strip()
    if not stripped:
        return ParsedVerdict(winner=None, problem="empty verdict")
    parsed = _from_json(stripped)
    if parsed is not None:
        return parsed
    tagged = _single(_TAG.findall(stripped), "[[…]] tags")
    if tagged is not None:
        return tagged
    bare = _normalize(stripped)
    if bare is not None:
        return ParsedVerdict(winner=bare)
    labelled = _single(_LABELLED.findall(stripped), "'winner:' lines")
    if labelled is not None:
        return labelled
    return ParsedVerdict(winner=None, problem=f"unparseable verdict: {stripped[:60]!r}")


def fused_outcome(verdict: ParsedVerdict, fused_position: Literal[1, 2]) -> Outcome:
    """One ordering's verdict, seen from the fused answer's side."""
    if verdict.winner is None:
        return "invalid"
    if verdict.winner == "tie":
        return "tie"
    return "win" if verdict.winner == str(fused_position) else "loss"


def combine_orders(first: Outcome, second: Outcome) -> tuple[Outcome, bool]:
    """The outcome of a comparison asked in both orders, and whether the verdict flipped.

    Invalid in either order makes the comparison invalid. Otherwise a side wins only when it
    wins in both orders; win-vs-loss is a flip (a tie), and win-or-loss-vs-tie is a tie.
    """
    if first == "invalid" or second == "invalid":
        return "invalid", False
    if first == second:
        return first, False
    return "tie", {first, second} == {"win", "loss"}
