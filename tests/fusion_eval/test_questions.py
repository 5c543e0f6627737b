from __future__ import annotations

from pathlib import Path

import pytest

from fusion_engine.errors import InputError
from fusion_eval import load_questions, parse_questions


def test_the_built_in_set_is_a_research_set_of_sensible_size() -> None:
    questions = load_questions()
    assert 30 <= len(questions) <= 80
    assert len({q.id for q in questions}) == len(questions)
    assert all(len(q.question.split()) >= 8 for q in questions)
    assert len({q.category for q in questions}) >= 5


def test_a_user_file_with_comments_blank_lines_and_missing_ids(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(
        '# my questions\n\n{"id": "a", "question": " Why? "}\n{"question": "How?", "x": 1}\n'
    )
    questions = load_questions(path)
    assert [q.question for q in questions] == ["Why?", "How?"]
    assert questions[0].id == "a"
    assert questions[1].id.startswith("q-")
    assert load_questions(path)[1].id == questions[1].id


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json\n", "line 1 is not JSON"),
        ('{"id": "a"}\n', 'needs a "question"'),
        ('["a list"]\n', 'needs a "question"'),
        ('{"id": "a", "question": "x"}\n{"id": "a", "question": "y"}\n', "used twice"),
        ('{"id": "bad id!", "question": "x"}\n', "line 1: id"),
        ("\n# nothing\n", "has no questions"),
    ],
)
def test_bad_files_say_which_line_and_how_to_fix_it(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_questions(text, source="q.jsonl")


def test_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="Cannot read"):
        load_questions(tmp_path / "missing.jsonl")
