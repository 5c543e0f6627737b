from __future__ import annotations

import random
import re

import pytest

from adapters.common import split_text


def _without_fences(text: str) -> str:
    """The text with every fence marker removed, to check nothing else was lost or moved."""
    return re.sub(r"```(python)?", "", text).replace("\n", "")


def test_short_text_is_one_chunk() -> None:
    assert split_text("hello", 100) == ["hello"]
    assert split_text("", 100) == [""]


def test_prefers_paragraphs_then_lines_then_words() -> None:
    text = "a" * 30 + "\n\n" + "b" * 30 + "\n" + "c" * 30
    chunks = split_text(text, 70)
    assert chunks == ["a" * 30 + "\n\n", "b" * 30 + "\n" + "c" * 30]
    words = " ".join(["word"] * 40)
    chunks = split_text(words, 50)
    assert all(len(c) <= 50 for c in chunks)
    assert all(c.endswith(" ") or c.endswith("word") for c in chunks)
    assert "".join(chunks) == words


def test_hard_cuts_a_word_longer_than_the_limit() -> None:
    text = "x" * 250
    chunks = split_text(text, 100)
    assert [len(c) for c in chunks] == [96, 96, 58]
    assert "".join(chunks) == text


def test_does_not_split_an_entity() -> None:
    text = "y" * 94 + "&amp;zzzz"
    chunks = split_text(text, 100)
    assert chunks[0] == "y" * 94
    assert chunks[1].startswith("&amp;")


def test_code_fences_are_closed_and_reopened() -> None:
    code = "\n".join(f"line_{i} = {i}" for i in range(40))
    text = "Intro paragraph.\n\n```python\n" + code + "\n```\n\nOutro."
    chunks = split_text(text, 120)
    assert len(chunks) > 2
    for chunk in chunks:
        assert len(chunk) <= 120
        assert chunk.count("```") % 2 == 0, chunk
    assert chunks[1].startswith("```python\n")
    assert _without_fences("".join(chunks)) == _without_fences(text)


@pytest.mark.parametrize("seed", range(20))
def test_random_texts_keep_every_character_in_order(seed: int) -> None:
    rng = random.Random(seed)
    pieces = ["word", "longerword", " ", " ", "\n", "\n\n", "&amp;", "<@U1>", "é", "x" * 70]
    text = "".join(rng.choice(pieces) for _ in range(rng.randint(50, 400)))
    limit = rng.randint(32, 200)
    chunks = split_text(text, limit)
    assert all(len(c) <= limit for c in chunks)
    assert "".join(chunks) == text


def test_rejects_a_tiny_limit() -> None:
    with pytest.raises(ValueError, match="at least"):
        split_text("abc", 5)
