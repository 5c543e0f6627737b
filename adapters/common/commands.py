"""The ``/fuse`` text grammar shared by Slack and Discord.

::

    help                                   what Fusion does and how to ask
    pools                                  the pools and their models
    budget                                 the team's spend and limits
    budget set --daily USD --monthly USD   change the limits (admins only; checked by the adapter)
    [--pool NAME] question…                ask a question (``--pool=NAME`` works too)

Only leading ``--options`` are parsed; everything after them is the question, kept verbatim,
so apostrophes, quotes, code and later ``--words`` inside a question are never mangled (a full
shlex pass would choke on "what's"). A bad option raises ``InputError`` that says how to fix it.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

from fusion_engine.errors import InputError
from fusion_engine.money import limit_to_micros

__all__ = [
    "AskCommand",
    "BudgetCommand",
    "BudgetSetCommand",
    "Command",
    "HelpCommand",
    "PoolsCommand",
    "parse_command",
]

_FROZEN = ConfigDict(frozen=True)

USAGE = (
    "Usage: `/fuse [--pool NAME] <question>`, `/fuse pools`, `/fuse budget`, "
    "`/fuse budget set --daily USD --monthly USD`, `/fuse help`."
)


class HelpCommand(BaseModel):
    model_config = _FROZEN
    kind: Literal["help"] = "help"


class PoolsCommand(BaseModel):
    model_config = _FROZEN
    kind: Literal["pools"] = "pools"


class BudgetCommand(BaseModel):
    model_config = _FROZEN
    kind: Literal["budget"] = "budget"


class BudgetSetCommand(BaseModel):
    """New limits in USD. Either may be ``None`` (keep the current one), not both."""

    model_config = _FROZEN
    kind: Literal["budget_set"] = "budget_set"
    daily_usd: float | None = None
    monthly_usd: float | None = None


class AskCommand(BaseModel):
    """A question. ``pool`` is ``None`` for the default pool. The question is not validated
    here (length, emptiness): ``FusionRequest.create`` does that with its own fix-it message."""

    model_config = _FROZEN
    kind: Literal["ask"] = "ask"
    question: str
    pool: str | None = None


Command = HelpCommand | PoolsCommand | BudgetCommand | BudgetSetCommand | AskCommand

_TOKEN = re.compile(r"\S+")
_POOL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _tokens(text: str) -> list[tuple[str, int]]:
    """Whitespace tokens with the offset just past each one."""
    return [(m.group(), m.end()) for m in _TOKEN.finditer(text)]


def _usd(option: str, value: str | None) -> float:
    if value is None:
        raise InputError(f"`{option}` needs an amount in USD, e.g. `{option} 20`.")
    cleaned = value.strip().lstrip("$").replace(",", "")
    try:
        amount = float(cleaned)
    except ValueError:
        raise InputError(
            f"`{option} {value}` is not an amount; give USD like `{option} 20` or `{option} 2.50`."
        ) from None
    limit_to_micros(amount, option=option)
    return amount


def _parse_budget_set(args: list[str]) -> BudgetSetCommand:
    values: dict[str, float] = {}
    i = 0
    while i < len(args):
        word = args[i]
        name, eq, inline = word.partition("=")
        if name not in ("--daily", "--monthly"):
            raise InputError(
                f"Unknown option `{word}` for `budget set`. "
                "Use `/fuse budget set --daily USD --monthly USD`."
            )
        if eq:
            value: str | None = inline
            i += 1
        else:
            value = args[i + 1] if i + 1 < len(args) else None
            i += 2
        values[name[2:]] = _usd(name, value)
    if not values:
        raise InputError(
            "Say which limit to change, e.g. `/fuse budget set --daily 10 --monthly 100`."
        )
    return BudgetSetCommand(daily_usd=values.get("daily"), monthly_usd=values.get("monthly"))


def parse_command(text: str) -> Command:
    """Parse the text after ``/fuse`` (or after a mention). Raises ``InputError`` on bad options.

    An empty text is ``HelpCommand`` (the friendliest answer to a bare ``/fuse``)."""
    tokens = _tokens(text)
    if not tokens:
        return HelpCommand()
    words = [t for t, _ in tokens]
    head = words[0].lower()
    if len(words) == 1 and head in ("help", "--help", "-h"):
        return HelpCommand()
    if len(words) == 1 and head == "pools":
        return PoolsCommand()
    if head == "budget" and len(words) == 1:
        return BudgetCommand()
    if head == "budget" and words[1].lower() == "set":
        return _parse_budget_set(words[2:])
    pool: str | None = None
    start = 0
    i = 0
    while i < len(tokens) and tokens[i][0].startswith("--"):
        word = tokens[i][0]
        name, eq, inline = word.partition("=")
        if name == "--":
            start = tokens[i][1]
            i += 1
            break
        if name != "--pool":
            raise InputError(
                f"Unknown option `{name}`. The only question option is `--pool NAME`. {USAGE}"
            )
        if eq:
            value, start = inline, tokens[i][1]
            i += 1
        elif i + 1 < len(tokens):
            value, start = tokens[i + 1][0], tokens[i + 1][1]
            i += 2
        else:
            raise InputError("`--pool` needs a pool name, e.g. `/fuse --pool fast why…`.")
        if not _POOL_NAME.match(value):
            raise InputError(f"`{value}` is not a pool name. `/fuse pools` lists them.")
        pool = value
    question = text[start:].strip()
    if not question:
        raise InputError(f"The question is empty. {USAGE}")
    return AskCommand(question=question, pool=pool)
