"""The one shared ``httpx.AsyncClient`` a process uses to talk to model endpoints.

One client per process (opened by the process that owns it, closed with ``async with``) keeps
connections alive across fusions: hundreds of concurrent fusions × 5-8 calls each share one
pool instead of paying a TLS handshake per call.

Only the connect phase has a timeout here. Reads, writes and waiting for a pooled connection
have none, because a long streamed answer is legitimately slow between bytes and a pool wait is
part of the call; each model call enforces its own whole-call deadline
(``ChatRequest.timeout_s``), which is the timeout that means something to a user.
"""

from __future__ import annotations

import httpx

__all__ = ["new_http_client"]


def new_http_client(
    *,
    max_connections: int = 1000,
    max_keepalive: int = 200,
    connect_timeout_s: float = 10.0,
) -> httpx.AsyncClient:
    """A client sized for hundreds of concurrent fusions. The caller owns it and must close it
    (``async with new_http_client() as http: ...``)."""
    return httpx.AsyncClient(
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_keepalive,
            keepalive_expiry=30.0,
        ),
        timeout=httpx.Timeout(None, connect=connect_timeout_s),
        follow_redirects=False,
    )
