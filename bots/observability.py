"""Logs and metrics for long-running processes (``fusion worker``, the bots).

Every module logs through the standard library (``fusion_engine.logs``: one style, usable with
no set-up); structlog is the renderer this installs on the root logger: JSON lines when the
output is not a terminal, so a log platform can filter by ``tenant``, ``job`` and ``model`` (the
fields a line carries as ``extra`` become keys), readable lines at a terminal. Libraries' loggers
(saq, discord.py, aiohttp) go through the same renderer. Our own logs carry only
ids and amounts. Libraries are less careful (saq logs a failed job's whole repr, which includes
its reply target; discord.py logs webhook URLs, which contain interaction tokens), so every
line, exception text included, passes through ``redact`` before it is written.

Metrics are Prometheus' default registry (``fusion_engine.metrics``) served on ``/metrics`` from
a small background HTTP server when ``FUSION_METRICS_PORT`` is set.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from prometheus_client import start_http_server

__all__ = ["configure_logging", "redact", "redact_processor", "start_metrics_server"]

_MASK = "***"
_SECRETS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Discord webhook / interaction URLs carry the interaction token in the path.
    (re.compile(r"(/(?:webhooks|interactions)/\d+/)[A-Za-z0-9_.\-]+"), rf"\1{_MASK}"),
    # Fields of a serialized ReplyTarget (repr, JSON or keyword form).
    (
        re.compile(r"""((?:interaction_token|response_url)['"]?\s*[:=]\s*['"]?)[^'"\s,})]+"""),
        rf"\1{_MASK}",
    ),
    (re.compile(r"https://hooks\.slack\.com/\S+"), _MASK),
    (re.compile(r"\bx(?:ox[abposre]|app)-[A-Za-z0-9\-]+"), _MASK),
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"), _MASK),
    (re.compile(r"\b(Bearer|Bot)\s+[A-Za-z0-9_.\-=]{16,}"), rf"\1 {_MASK}"),
)


def redact(text: str) -> str:
    """``text`` with tokens, keys, webhook and ``response_url`` secrets masked."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def redact_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask secrets in every string value (message and exception text)."""
    for key, value in event_dict.items():
        if isinstance(value, str):
            event_dict[key] = redact(value)
    return event_dict


def configure_logging(level: str = "INFO", *, json: bool | None = None) -> None:
    """Configure structlog and the standard library once, for the whole process."""
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    as_json = not sys.stderr.isatty() if json is None else json
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, redact_processor, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact_processor,
                renderer,
            ],
            foreign_pre_chain=[
                *shared,
                structlog.stdlib.add_logger_name,
                structlog.stdlib.ExtraAdder(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)


def start_metrics_server(port: int | None, host: str = "0.0.0.0") -> int | None:  # noqa: S104
    """Serve ``/metrics`` on ``port`` in a daemon thread; returns the bound port (``0`` picks a
    free one), or ``None`` when metrics are off."""
    if port is None:
        return None
    server, _thread = start_http_server(port, addr=host)
    bound: int = server.server_address[1]
    return bound
