"""A loopback port nothing listens on: for a server a test starts there, or to see a refusal."""

from __future__ import annotations

import socket

__all__ = ["free_port"]


def free_port() -> int:
    """A port just bound and released on 127.0.0.1, so (for now) closed."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
