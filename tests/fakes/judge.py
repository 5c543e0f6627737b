"""Helpers for fakes that play the judge (and route by role when one model plays several).

The engine's prompts carry a marker on the first line of their system prompt
(``fusion_engine.pipeline.prompts.JUDGE_MARKER`` = ``[fusion:judge]`` and ``WRITER_MARKER`` =
``[fusion:writer]``); ``is_judge_request`` and ``is_writer_request`` look for it in the
messages, given as ``ChatMessage`` objects, plain dicts, or a whole OpenAI request body.
``analysis_json_for`` reads the anonymous labels out of a judge prompt
(``<answer label="A">`` …) and returns valid judge JSON about them.

``fusion eval``'s pairwise judge carries its own marker
(``fusion_eval.judging.EVAL_JUDGE_MARKER``); ``is_eval_judge_request`` finds it and
``verdict_json_for`` answers with a valid, deterministic verdict.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from fusion_engine.llm.base import ChatMessage, ChatRequest
from fusion_engine.pipeline.prompts import JUDGE_MARKER, WRITER_MARKER
from fusion_eval.judging import EVAL_JUDGE_MARKER

__all__ = [
    "analysis_json_for",
    "is_eval_judge_request",
    "is_judge_request",
    "is_writer_request",
    "labels_in",
    "verdict_json_for",
]

_LABEL = re.compile(r'<answer label="([A-Z])">')
_PAIR = re.compile(r"## Answer 1\n(.*?)\n## Answer 2\n(.*?)\n## Your verdict", re.DOTALL)

Messages = ChatRequest | Mapping[str, Any] | Iterable[ChatMessage | Mapping[str, Any]]


def _texts(messages: Messages) -> list[str]:
    if isinstance(messages, ChatRequest):
        items: Iterable[Any] = messages.messages
    elif isinstance(messages, Mapping):
        items = messages.get("messages") or []
    else:
        items = messages
    out = []
    for item in items:
        content = item.content if isinstance(item, ChatMessage) else item.get("content")
        out.append(content if isinstance(content, str) else "")
    return out


def _has(messages: Messages, marker: str) -> bool:
    return any(marker in text for text in _texts(messages))


def is_judge_request(messages: Messages) -> bool:
    """True for the engine's judge calls (the judge system prompt's marker is present)."""
    return _has(messages, JUDGE_MARKER)


def is_writer_request(messages: Messages) -> bool:
    """True for the engine's writer calls."""
    return _has(messages, WRITER_MARKER)


def is_eval_judge_request(messages: Messages) -> bool:
    """True for ``fusion eval``'s pairwise verdict calls."""
    return _has(messages, EVAL_JUDGE_MARKER)


def verdict_json_for(prompt_text: str) -> str:
    """A valid verdict on an eval judge prompt: the longer answer wins, equal lengths tie.

    Deterministic and blind to the order the answers come in, so the two orderings of a
    comparison agree (no flips); and a known bias of real judges, which the report's
    length-controlled rate is there to correct."""
    found = _PAIR.search(prompt_text)
    first, second = (len(a.strip()) for a in found.groups()) if found else (0, 0)
    winner = "tie" if first == second else "1" if first > second else "2"
    return json.dumps({"reason": "The fake judge prefers the longer answer.", "winner": winner})


def labels_in(prompt_text: str) -> list[str]:
    """The anonymous labels of the answers in a judge (or writer) prompt, in prompt order."""
    return list(dict.fromkeys(_LABEL.findall(prompt_text)))


def analysis_json_for(prompt_text: str) -> str:
    """Valid judge JSON covering every label in ``prompt_text``: consensus, one contradiction
    (first label against the rest), one unique insight (from the last label), and scores."""
    labels = labels_in(prompt_text) or ["A"]
    reply = {
        "consensus": ["The answers agree on the main point."],
        "contradictions": [
            {
                "topic": "the details",
                "stances": [
                    {"answer": label, "position": "says yes" if i == 0 else "says no"}
                    for i, label in enumerate(labels)
                ],
            }
        ],
        "partial_coverage": ["Only some answers mention the edge cases."],
        "unique_insights": [{"answer": labels[-1], "insight": "A point only this answer made."}],
        "blind_spots": ["None of the answers covers the cost."],
        "scores": [
            {
                "answer": label,
                "accuracy": 8,
                "depth": 7,
                "completeness": 7,
                "clarity": 9,
                "relevance": 9,
            }
            for label in labels
        ],
    }
    return json.dumps(reply)
