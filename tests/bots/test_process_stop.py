"""``fusion slack`` and ``fusion discord`` stopped with SIGTERM (``kill``, honcho, a host's
shutdown) close what they own, as on Ctrl-C: the embedded Redis they started stops with them.

Before, SIGTERM ended Python on the spot and left the embedded ``redis-server`` running with no
owner (the README's ``kill $(jobs -p)`` did exactly that).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.discord.connection import point_at
from tests.bots.conftest import model_server, pool_file  # noqa: F401
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.model_server import FakeModelServer
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack
from tests.ports import free_port

FUSION = Path(sys.executable).parent / "fusion"
READY = {"slack": "Slack app listening", "discord": "has connected to Gateway"}


@contextlib.asynccontextmanager
async def _platform(name: str) -> AsyncIterator[dict[str, str]]:
    """The fake of ``name`` and the settings that point ``fusion <name>`` at it."""
    if name == "slack":
        async with FakeSlack() as slack:
            yield {
                "SLACK_API_URL": slack.api_url,
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_SIGNING_SECRET": "signing",
                "PORT": str(free_port()),
            }
    else:
        async with FakeDiscord() as discord:
            try:
                yield {
                    "DISCORD_API_URL": discord.api_url,
                    "DISCORD_GATEWAY_URL": discord.gateway_url,
                    "DISCORD_TOKEN": "fake-token",
                }
            finally:
                point_at(None, None)


def _refused(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.parametrize("platform", ["slack", "discord"])
async def test_sigterm_stops_the_embedded_redis_with_the_process(
    platform: str,
    model_server: FakeModelServer,  # noqa: F811
    pool_file: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENROUTER_", "FUSION_", "SLACK_", "DISCORD_", "REDIS_"))
    }
    data = tmp_path / "data"
    async with _platform(platform) as settings:
        env = clean | settings
        env |= {
            "OPENROUTER_API_KEY": "test-key",
            "OPENROUTER_BASE_URL": model_server.base_url,
            "FUSION_CONFIG": str(pool_file),
            "FUSION_DATA_DIR": str(data),
        }
        proc = await asyncio.create_subprocess_exec(
            str(FUSION),
            platform,
            env=env,
            cwd=tmp_path,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        assert proc.stderr is not None
        try:
            async with asyncio.timeout(60):
                while READY[platform] not in (line := (await proc.stderr.readline()).decode()):
                    assert line, "the process ended before it was ready"
            redis_port = int((data / "redis" / "server.port").read_text())
            assert not _refused(redis_port)
            proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(30):
                await proc.stderr.read()
                code = await proc.wait()
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the session: an orphaned Redis too
            await proc.wait()
    assert code == 0
    assert _refused(redis_port), "the embedded Redis outlived the process that started it"
