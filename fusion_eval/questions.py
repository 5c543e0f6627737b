"""Eval questions: the built-in research set, or the user's own JSONL file.

Each line of a questions file is a JSON object with a ``question`` and, optionally, an ``id``
(stable ids keep the resume cache valid when the file is edited) and a ``category``. Lines that
are blank or start with ``#`` are skipped. The built-in set (``questions.jsonl`` beside this
module) was written for this project and is covered by the project's MIT licence.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fusion_engine.errors import InputError
from fusion_engine.request import MAX_QUESTION_CHARS

__all__ = ["DEFAULT_QUESTIONS_LICENSE", "EvalQuestion", "load_questions", "parse_questions"]

DEFAULT_QUESTIONS_LICENSE = "MIT (written for Fusion; same licence as the project)"


class EvalQuestion(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.-]+$")
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    category: str = ""


def _line_id(question: str) -> str:
    return "q-" + hashlib.sha256(question.strip().encode()).hexdigest()[:10]


def parse_questions(text: str, *, source: str) -> tuple[EvalQuestion, ...]:
    """Parse JSONL; every problem raises ``InputError`` naming the line and the fix."""
    questions: list[EvalQuestion] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{source} line {number} is not JSON ({exc.msg}). Each line must be an object "
                'like {"id": "q1", "question": "..."}.'
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("question"), str):
            raise InputError(
                f'{source} line {number} needs a "question" string, e.g. '
                '{"id": "q1", "question": "..."}.'
            )
        data.setdefault("id", _line_id(data["question"]))
        try:
            item = EvalQuestion.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
            )
            raise InputError(f"{source} line {number}: {problems}.") from None
        if item.id in seen:
            raise InputError(f"{source} line {number}: id {item.id!r} is used twice.")
        seen.add(item.id)
        questions.append(item.model_copy(update={"question": item.question.strip()}))
    if not questions:
        raise InputError(f"{source} has no questions; add one JSON object per line.")
    return tuple(questions)


def load_questions(path: Path | None = None) -> tuple[EvalQuestion, ...]:
    """Questions from ``path`` (JSONL), or the built-in research set when ``path`` is ``None``."""
    if path is None:
        text = resources.files("fusion_eval").joinpath("questions.jsonl").read_text()
        return parse_questions(text, source="the built-in questions")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(
            f"Cannot read {path} ({exc.strerror}); pass an existing JSONL file."
        ) from None
    return parse_questions(text, source=str(path))
