"""The one shared ``httpx.AsyncClient`` a process uses to talk to model endpoints.

One client per process (opened by the process that owns it, closed with ``async with``) keeps
connections alive across fusions: hundreds of concurrent fusions × 5-8 calls each share one
pool instead of paying a TLS handshake per call.

The client speaks httpx, but its transport is aiohttp (``httpx-aiohttp``, by an httpx
maintainer). httpcore's connection pool re-scans every connection and every queued request on
each state change, which is quadratic: measured on this project's fake server, 2,500 concurrent
streamed calls over a 1,000-connection httpcore pool had not finished after 300 s, while the
aiohttp transport served them in ~6 s (both in one process with the server). aiohttp has no
separate cap on idle connections; idle ones live for ``keepalive_expiry`` instead.

Only the connect phase has a timeout here. Reads, writes and waiting for a pooled connection
have none, because a long streamed answer is legitimately slow between bytes and a pool wait is
part of the call; each model call enforces its own whole-call deadline
(``ChatRequest.timeout_s``), which is the timeout that means something to a user.

Sizing: 500 concurrent fusions open 2,000 panel calls at once (4 members each). With 1,000
connections half of them queued for a free one and the p95 fusion took 1.56× the ideal instead
of 1.27× (``bench/bench_fusion.py --levels 500``, 2026-11-29), so the default is 4,096.
Every connection is a file descriptor, and many machines start processes with a soft limit of
1,024: the limit is clamped to what the process may open (leaving room for Redis, logs and the
chat sockets) so an overloaded bot queues calls instead of failing them with ``EMFILE``.
Process entry points call ``raise_open_files_limit`` first to lift the soft limit to the hard
one.

Opening this client is also where a process that runs fusions gets its garbage collector tuned
(``tune_gc``, once per process): the bots, ``fusion ask`` and a library user alike, with no
separate call to forget. It happens after the process's imports, which is what ``gc.freeze``
wants, and costs the CLI's start-up nothing (``gc`` is built in).
"""

from __future__ import annotations

import gc
import resource
from typing import Any

import httpx
from httpx_aiohttp import HttpxAiohttpClient

__all__ = [
    "DEFAULT_MAX_CONNECTIONS",
    "FD_HEADROOM",
    "GC_THRESHOLDS",
    "connection_limit",
    "new_http_client",
    "raise_open_files_limit",
    "tune_gc",
]

DEFAULT_MAX_CONNECTIONS = 4096
FD_HEADROOM = 256
"""Descriptors kept free for everything that is not a model connection."""
_MIN_CONNECTIONS = 16
GC_THRESHOLDS = (10_000, 20, 20)
"""CPython's defaults are (700, 10, 10)."""
_gc_tuned = False


def tune_gc() -> None:
    """Make the cyclic garbage collector cheaper in a process that runs fusions.

    A fusion allocates thousands of short-lived objects (HTTP messages, stream chunks, events);
    with CPython's default thresholds a 500-fusion burst triggers hundreds of collections, and
    every older-generation pass walks the objects of every imported module again. ``gc.freeze``
    takes what exists now (call it after start-up) out of all later collections, and a larger
    first threshold collects young objects less often (cycles are still collected; memory did
    not grow). Measured with ``bench/bench_fusion.py`` against ``--default-gc`` at 500 fusions:
    CPU per fusion 4.8 → 3.6 ms, wall ÷ ideal p95 1.35 → 1.23, peak RSS about the same (the
    tables are in ``bench/README.md``). ``new_http_client`` calls it once per process.
    """
    global _gc_tuned
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    _gc_tuned = True


def raise_open_files_limit(wanted: int = DEFAULT_MAX_CONNECTIONS + FD_HEADROOM) -> int:
    """Raise this process's soft open-files limit toward ``wanted`` (never above the hard
    limit, never lowering it) and return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):  # e.g. a sandbox that forbids it: keep the old limit
            pass
    return soft


def connection_limit(wanted: int = DEFAULT_MAX_CONNECTIONS) -> int:
    """``wanted``, or fewer if the open-files limit would not leave ``FD_HEADROOM`` spare."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(_MIN_CONNECTIONS, min(wanted, soft - FD_HEADROOM))


class _NoCookies(httpx.Cookies):
    """A cookie store that never stores anything it is sent."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class _ModelEndpointClient(HttpxAiohttpClient):
    """The aiohttp-backed client, without cookies.

    Model endpoints authenticate with a bearer key and need no cookies, but httpx copies every
    request's headers into a ``urllib`` request and every response's headers into an
    ``email.message.Message`` to look for ``Set-Cookie``: ~9% of the client process's CPU at
    500 concurrent fusions (cProfile of ``bench/bench_fusion.py``). Not keeping them also means
    no cookie set by one call is replayed on every other tenant's calls.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._cookies = _NoCookies()


def new_http_client(
    *,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    connect_timeout_s: float = 10.0,
) -> httpx.AsyncClient:
    """A client sized for hundreds of concurrent fusions. The caller owns it and must close it
    (``async with new_http_client() as http: ...``).

    ``max_connections`` is clamped by ``connection_limit`` to the process's open-files limit.
    Cookies are neither kept nor sent (see ``_ModelEndpointClient``). The first client a process
    opens tunes its garbage collector (``tune_gc``).
    The aiohttp transport keeps every idle connection (up to ``max_connections``) for 30 s
    rather than capping their number, so there is no separate keep-alive limit to set.
    """
    if not _gc_tuned:
        tune_gc()
    max_connections = connection_limit(max_connections)
    return _ModelEndpointClient(
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30.0,
        ),
        timeout=httpx.Timeout(None, connect=connect_timeout_s),
        follow_redirects=False,
    )
