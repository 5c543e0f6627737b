"""Logging, the one way: the standard library's ``logging``, with key-value fields.

Every module (core, adapters, bots) logs through a stdlib logger, so a line is handled the same
wherever it comes from: with no set-up it goes where Python sends warnings (stderr, not the
answer on stdout), pytest's ``caplog`` sees it, and a process that calls
``bots.observability.configure_logging`` renders it (JSON or console, secrets masked) exactly
like a library's line. structlog is only that renderer; no module needs it configured to log.

A module whose lines are plain text uses ``logging.getLogger(__name__)``; one whose lines carry
ids and amounts uses ``get_logger(name)``, a stdlib ``LoggerAdapter`` taking fields as keywords
(``log.info("job done", job=key, charged_micros=n)``). They travel as the record's ``extra``, so
the renderer shows them as keys; ``bind(**fields)`` adds fields to every line of the returned
logger (a job's key, tenant and platform). Loggers are named after their module (``__name__``):
a bare ``fusion`` is slack_bolt's logger for the app of that name, whose level bolt pins.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping
from typing import Any

__all__ = ["FieldLogger", "get_logger"]

_CALL_KWARGS = frozenset({"exc_info", "stack_info", "stacklevel", "extra"})
_RECORD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class FieldLogger(logging.LoggerAdapter[logging.Logger]):
    """A stdlib logger taking key-value fields; see the module docstring."""

    def __init__(self, logger: logging.Logger, fields: Mapping[str, object] | None = None) -> None:
        super().__init__(logger, dict(fields or {}))

    def bind(self, **fields: object) -> FieldLogger:
        return FieldLogger(self.logger, {**(self.extra or {}), **fields})

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        fields = {**(self.extra or {}), **(kwargs.pop("extra", None) or {})}
        for key in [k for k in kwargs if k not in _CALL_KWARGS]:
            fields[key] = kwargs.pop(key)
        # A field named like a LogRecord attribute would make logging raise; keep it, renamed.
        kwargs["extra"] = {(f"{k}_" if k in _RECORD_ATTRS else k): v for k, v in fields.items()}
        return msg, kwargs


def get_logger(name: str) -> FieldLogger:
    return FieldLogger(logging.getLogger(name))
