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
"""

from __future__ import annotations

import httpx
from httpx_aiohttp import HttpxAiohttpClient

__all__ = ["new_http_client"]


def new_http_client(
    *,
    max_connections: int = 1000,
    max_keepalive: int = 200,
    connect_timeout_s: float = 10.0,
) -> httpx.AsyncClient:
    """A client sized for hundreds of concurrent fusions. The caller owns it and must close it
    (``async with new_http_client() as http: ...``).

    ``max_keepalive`` is kept for the signature and passed on, but the aiohttp transport keeps
    every idle connection (up to ``max_connections``) for 30 s rather than capping their number.
    """
    return HttpxAiohttpClient(
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_keepalive,
            keepalive_expiry=30.0,
        ),
        timeout=httpx.Timeout(None, connect=connect_timeout_s),
        follow_redirects=False,
    )
