"""The README's offline chat try-out, run as written: the fake model server, the fake Slack or
Discord, ``fusion slack`` / ``fusion discord`` and ``tests.fakes.try_chat`` as real processes
(``uv run``), on free ports. The fused answer must come back to the script that asked.

Before, only ``fusion ask`` could be tried offline: the chat processes needed a real workspace.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from fusion_engine.config import load_config
from tests.ports import free_port

ROOT = Path(__file__).parents[2]
MODEL_SERVER = "uv run python -m tests.fakes.model_server --port 8799 &"
PORTS = {"slack": ("8799", "8798", "3000"), "discord": ("8799", "8797")}
"""The README's ports for each platform's commands (replaced by free ones here)."""


def _readme_commands(platform: str) -> str:
    """The model server line of the quick start, then the platform's try-out block."""
    readme = (ROOT / "README.md").read_text()
    assert MODEL_SERVER in readme.splitlines()
    blocks = re.findall(r"^```bash\n(.*?)^```", readme, re.M | re.S)
    (block,) = [b for b in blocks if f"tests.fakes.try_chat {platform} " in b]
    return f"{MODEL_SERVER}\n{block}"


def _on_free_ports(commands: str, ports: tuple[str, ...]) -> str:
    for port in ports:
        assert re.search(rf"\b{port}\b", commands), f"the README's commands use port {port}"
        commands = re.sub(rf"\b{port}\b", str(free_port()), commands)
    return commands


def _stop_all(shell: subprocess.Popen[bytes]) -> None:
    """SIGTERM to every process the commands started (their own session), SIGKILL if one
    lingers (the commands leave the fakes and Fusion running, as in a terminal)."""
    pgid = shell.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            shell.poll()  # reap the shell itself, if it was still running
            os.killpg(pgid, 0)
            time.sleep(0.1)
        os.killpg(pgid, signal.SIGKILL)


@pytest.mark.parametrize("platform", ["slack", "discord"])
def test_the_readme_chat_tryout_prints_the_fused_answer(platform: str, tmp_path: Path) -> None:
    commands = _on_free_ports(_readme_commands(platform), PORTS[platform])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_"))}
    env.pop("REDIS_URL", None)  # the README's processes run on an embedded Redis
    env.pop("FUSION_CONFIG", None)
    env["FUSION_DATA_DIR"] = str(tmp_path / "data")
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with out.open("w") as stdout, err.open("w") as stderr:
        shell = subprocess.Popen(  # noqa: S603 - the README's own commands
            ["bash", "-c", commands],  # noqa: S607
            cwd=ROOT,
            env=env,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    try:
        status = shell.wait(timeout=100)
    except subprocess.TimeoutExpired:
        status = None
    finally:
        _stop_all(shell)
    logs = err.read_text()[-3000:]
    assert status == 0, logs
    pool = load_config().pool(None)
    lines = out.read_text().splitlines()
    assert f"A fine answer from {pool.writer}." in lines, logs
    assert any(line.startswith(f"{len(pool.models)} models: ") for line in lines), lines
