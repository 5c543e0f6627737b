"""Logs and metrics for long-running processes (``fusion worker``, the bots).

Logs are structured (structlog): JSON lines when the output is not a terminal, so a log
platform can filter by ``tenant``, ``job`` and ``model``; readable lines at a terminal. Standard
library loggers (saq, discord.py, aiohttp) go through the same renderer. Only ids and amounts are
logged, never tokens, keys or question text.

Metrics are Prometheus' default registry (``fusion_engine.metrics``) served on ``/metrics`` from
a small background HTTP server when ``FUSION_METRICS_PORT`` is set.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from prometheus_client import start_http_server

__all__ = ["configure_logging", "start_metrics_server"]


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
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
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
