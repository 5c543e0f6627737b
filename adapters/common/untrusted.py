"""Model output is untrusted text. This module is the shared rule book; the escaping itself is
platform-specific and lives in each adapter.

Anything a model wrote — the fused answer, panel answers, every string of the judge's analysis
(topics, stances, insights), even failure reasons that quote a response — may contain, by
accident or by prompt injection:

- mass or personal pings: Slack ``<!channel>``, ``<!here>``, ``<!everyone>``, ``<@U123>``,
  ``<!subteam^S123>``; Discord ``@everyone``, ``@here``, ``<@123>``, ``<@&123>``;
- markup that breaks the message's structure: unbalanced code fences, Slack's ``<url|label>``
  links pointing somewhere else than they say, text past the platform's limits;
- terminal escape sequences (the CLI strips them);
- Unicode bidirectional controls (embeddings, overrides and isolates such as U+202E RIGHT-TO-LEFT
  OVERRIDE, and the directional marks), which make a chat client show text in another order
  than it was written: ``evil.example/\u202egro.knab`` reads as a bank's address.

The rules every adapter follows:

1. Escape or neutralise model text at the last step, in the adapter's renderer, never earlier
   (the core keeps it verbatim so scores, costs and JSON stay exact).
   Slack: escape ``&``, ``<``, ``>`` in all model text, so no ``<!…>`` or ``<@…>`` token can
   form; and post with ``link_names`` off. Discord: send ``allowed_mentions`` that allow
   nothing (or only the asker), which Discord enforces server-side whatever the text says.
2. Never cut model text silently: split it with ``adapters.common.split.split_text`` under the
   platform's real limits, and number the parts.
3. Escape before splitting, so the limit applies to what is actually sent.
4. Only text the adapter wrote itself (labels, the asker's mention) may contain live markup.
5. Remove bidirectional controls from model text with ``strip_bidi_controls`` in that same last
   step (Slack: inside ``escape``; Discord: before splitting).
"""

from __future__ import annotations

__all__ = ["BIDI_CONTROLS", "strip_bidi_controls"]

BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
"""Unicode's ``Bidi_Control`` characters: ALM, LRM, RLM, the embeddings and overrides (LRE,
RLE, PDF, LRO, RLO) and the isolates (LRI, RLI, FSI, PDI)."""

_REMOVE_BIDI = str.maketrans(dict.fromkeys(map(ord, BIDI_CONTROLS)))


def strip_bidi_controls(text: str) -> str:
    """``text`` without bidirectional controls: shown in the order it was written.

    Removed rather than escaped: a chat has no way to show them harmlessly, and right-to-left
    scripts still display right to left without them (their direction is the letters' own)."""
    return text.translate(_REMOVE_BIDI)
