"""Prompt files, kept out of the code so they can be read and reviewed as text.

Each ``*.md`` file here is a ``string.Template`` (``$name`` placeholders). ``Template`` is used
rather than ``str.format`` because the values are untrusted model output full of braces: a
substituted value is never re-parsed as a template.
"""

from __future__ import annotations

import functools
from importlib import resources
from string import Template

__all__ = ["JUDGE_MARKER", "WRITER_MARKER", "load_prompt", "render_prompt"]

JUDGE_MARKER = "[fusion:judge]"
"""First line of the judge's system prompt; fakes route on it (``tests/fakes/judge.py``)."""
WRITER_MARKER = "[fusion:writer]"
"""First line of the writer's system prompt."""


@functools.cache
def load_prompt(name: str) -> str:
    """The text of the prompt file ``name`` (read once per process)."""
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8").strip()


@functools.cache
def _template(name: str) -> Template:
    return Template(load_prompt(name))


def render_prompt(name: str, **values: str) -> str:
    """Fill the ``$placeholders`` of prompt file ``name``; a missing value is a ``KeyError``."""
    return _template(name).substitute(values)
