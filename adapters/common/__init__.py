"""Platform-neutral chat rendering shared by the Slack and Discord adapters.

Public API (everything else is private):

- ``parse_command(text) -> Command``: the ``/fuse`` grammar (``help``, ``pools``, ``budget``,
  ``budget set --daily USD --monthly USD``, ``[--pool NAME] question…``); ``InputError`` with a
  fix-it message on bad options. ``Command`` is ``HelpCommand | PoolsCommand | BudgetCommand |
  BudgetSetCommand | AskCommand``.
- ``summary_sections(result) -> list[Section]``: "Where they agree", "Where they differ"
  (topic with model → stance), "Only one model saw", "Only some covered", "Nobody covered",
  or a "No comparison" note when the analysis is missing.
- ``footer(result, budget) -> Footer``: answered models, missing ones with reasons, latency,
  cost, budget left; ``Footer.parts()`` / ``Footer.text()`` give plain text.
- ``ProgressView``: fold ``FusionEvent``s with ``apply(event) -> changed``; ``lines()``.
- ``split_text(text, limit) -> list[str]``: split under a hard limit at paragraph, line, then
  word boundaries, never losing or reordering text, keeping code fences balanced.
- ``Coalescer(send, interval_s=1.0)``: at most one message edit per interval, the last state
  always delivered by ``flush()``.
- ``short_model(slug)``, ``format_seconds(s)``: small display helpers.
- ``FusionService`` / ``Accepted``: the Protocol of the service calls an adapter makes.
- ``strip_bidi_controls(text)``: remove Unicode bidirectional controls from untrusted text.

All strings these return may contain model text: escape them in the adapter
(see ``adapters.common.untrusted`` for the rules).
"""

from adapters.common.commands import (
    AskCommand,
    BudgetCommand,
    BudgetSetCommand,
    Command,
    HelpCommand,
    PoolsCommand,
    parse_command,
)
from adapters.common.progress import MemberStatus, ProgressView
from adapters.common.service import Accepted, FusionService
from adapters.common.split import split_text
from adapters.common.summary import (
    Footer,
    FooterModel,
    Section,
    SectionItem,
    footer,
    format_seconds,
    short_model,
    summary_sections,
)
from adapters.common.throttle import Coalescer
from adapters.common.untrusted import strip_bidi_controls

__all__ = [
    "Accepted",
    "AskCommand",
    "BudgetCommand",
    "BudgetSetCommand",
    "Coalescer",
    "Command",
    "Footer",
    "FooterModel",
    "FusionService",
    "HelpCommand",
    "MemberStatus",
    "PoolsCommand",
    "ProgressView",
    "Section",
    "SectionItem",
    "footer",
    "format_seconds",
    "parse_command",
    "short_model",
    "split_text",
    "strip_bidi_controls",
    "summary_sections",
]
