from __future__ import annotations

import sys
import unicodedata

from adapters.common import strip_bidi_controls
from adapters.common.untrusted import BIDI_CONTROLS
from tests.adapters.common.bidi import BIDI_ATTACK, BIDI_SHOWN

_EXPLICIT = {"LRE", "RLE", "PDF", "LRO", "RLO", "LRI", "RLI", "FSI", "PDI"}
"""The bidi classes of the embeddings, overrides and isolates."""


def test_every_explicit_bidi_control_in_unicode_is_covered() -> None:
    explicit = {
        chr(c) for c in range(sys.maxunicode + 1) if unicodedata.bidirectional(chr(c)) in _EXPLICIT
    }
    marks = {"\u200e", "\u200f", "\u061c"}  # LRM, RLM, ALM
    assert explicit | marks == BIDI_CONTROLS


def test_strip_keeps_every_other_character_in_order() -> None:
    assert strip_bidi_controls(BIDI_ATTACK) == BIDI_SHOWN
    hebrew = "שלום, world"
    assert strip_bidi_controls(hebrew) == hebrew
