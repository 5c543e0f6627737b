"""Model output is untrusted text. This module is the shared rule book; the escaping itself is
platform-specific and lives in each adapter.

Anything a model wrote — the fused answer, panel answers, every string of the judge's analysis
(topics, stances, insights), even failure reasons that quote a response — may contain, by
accident or by prompt injection:

- mass or personal pings: Slack ``<!channel>``, ``<!here>``, ``<!everyone>``, ``<@U123>``,
  ``<!subteam^S123>``; Discord ``@everyone``, ``@here``, ``<@123>``, ``<@&123>``;
- markup that breaks the message's structure: unbalanced code fences, Slack's ``<url|label>``
  links pointing somewhere else than they say, text past the platform's limits;
- terminal escape sequences (the CLI strips them).

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
"""

from __future__ import annotations

__all__: list[str] = []
