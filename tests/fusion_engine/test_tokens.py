"""``OutputCap``: the quote's token estimate kept over a text that arrives in pieces."""

from __future__ import annotations

import random

import pytest

from fusion_engine.tokens import BOUNDARY_CHARS, OutputCap, estimate_tokens

SAMPLES = (
    "Plain ASCII prose, the common case. " * 20,
    "Ünïcödé mixed with ASCII, 漢字 and emoji 🙂 between words. " * 12,
    "🙂" * 50 + "tail",
)


@pytest.mark.parametrize("text", SAMPLES)
def test_running_count_equals_the_estimate_of_the_whole_text(text: str) -> None:
    """Pieces never change the count: the cap binds exactly where the quote's estimate does."""
    rng = random.Random(11)
    for _ in range(20):
        cap = OutputCap(10**9)
        i = 0
        while i < len(text):
            j = min(len(text), i + rng.randint(1, 7))
            assert cap.take(text[i:j]) == text[i:j]
            i = j
            assert cap.tokens == estimate_tokens(text[:i])
        assert not cap.reached


@pytest.mark.parametrize("text", SAMPLES)
@pytest.mark.parametrize("limit", [1, 7, 40, 64])
def test_the_piece_that_passes_the_limit_is_cut_to_what_fits(text: str, limit: int) -> None:
    cap = OutputCap(limit)
    kept = []
    for i in range(0, len(text), 5):
        kept.append(cap.take(text[i : i + 5]))
        if cap.reached:
            break
    used = "".join(kept)
    assert cap.reached
    assert cap.tokens == limit
    assert estimate_tokens(used) <= limit
    assert text.startswith(used)
    assert cap.take("more") == ""


def test_a_text_ending_exactly_at_the_limit_is_not_cut() -> None:
    """A provider that stops at its max_tokens is complete, not truncated."""
    cap = OutputCap(4)
    assert cap.take("abcdef") == "abcdef"
    assert cap.take("ghijkl") == "ghijkl"
    assert not cap.reached
    assert cap.tokens == 4
    assert cap.take("m") == ""
    assert cap.reached


def test_a_long_piece_is_cut_at_whitespace_near_the_cap() -> None:
    words = "alpha beta gamma delta " * 100
    cut = OutputCap(30).take(words)
    assert words[90] != " "  # the cap (30 tokens = 90 characters) falls inside a word
    assert cut == words[:90].rsplit(" ", 1)[0]
    assert cut.endswith("gamma")
    assert estimate_tokens(cut) <= 30


def test_a_piece_without_whitespace_near_the_cap_is_cut_at_the_cap() -> None:
    text = "x " + "y" * (3 * 100)
    cut = OutputCap(100).take(text)
    assert len(text) - 2 > BOUNDARY_CHARS
    assert cut == text[: 3 * 100]


def test_non_ascii_is_cut_on_a_character() -> None:
    cut = OutputCap(10).take("漢字" * 10)
    assert cut == "漢字漢"  # 3 bytes = 3 tokens each
    assert estimate_tokens(cut) == 9


def test_a_non_ascii_piece_ending_exactly_at_the_limit_is_not_cut() -> None:
    cap = OutputCap(6)
    assert cap.take("漢字") == "漢字"
    assert not cap.reached
    assert cap.take("a") == ""
    assert cap.reached


def test_a_cut_that_falls_between_words_keeps_the_last_word() -> None:
    assert OutputCap(2).take("a bcde fgh") == "a bcde"
