"""The Procfile as the README tells a team to run it: every line is a ``fusion`` command, the
README's ``honcho start`` lines name real processes (Slack only, Discord only, both), and a
Slack-only team's ``honcho start web worker`` brings both processes up, offline."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

from bots.cli import app
from tests.bots.conftest import POOL_FILE
from tests.fakes.model_server import FakeModelServer
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(":", 1) for line in lines if line.strip())


def test_every_process_is_a_fusion_command() -> None:
    commands = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    for name, command in procfile().items():
        words = command.split()
        assert words[0] == "fusion", name
        assert words[1] in commands, name


def test_the_readme_starts_each_platform_alone_or_both() -> None:
    readme = (ROOT / "README.md").read_text()
    started = [
        frozenset(m.split())
        for m in re.findall(r"^uv run honcho start ([\w ]+?)\s+#", readme, re.M)
    ]
    assert all(names <= procfile().keys() for names in started)
    assert frozenset({"web", "worker"}) in started
    assert frozenset({"discord", "worker"}) in started
    assert frozenset({"web", "discord", "worker"}) in started


async def test_a_slack_only_team_runs_web_and_worker_with_honcho(
    model_server: FakeModelServer, tmp_path: Path
) -> None:
    (tmp_path / "Procfile").write_text((ROOT / "Procfile").read_text())
    (tmp_path / "pools.toml").write_text(POOL_FILE)
    port = free_port()
    async with FakeSlack() as slack:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_"))} | {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": str(ROOT),
            "OPENROUTER_API_KEY": "test-key",
            "OPENROUTER_BASE_URL": model_server.base_url,
            "FUSION_CONFIG": str(tmp_path / "pools.toml"),
            "FUSION_DATA_DIR": str(tmp_path / "data"),
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": "signing",
            "SLACK_API_URL": slack.api_url,
            "PORT": str(port),
        }
        env.pop("REDIS_URL", None)
        honcho = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "honcho", "start", "web", "worker",
            cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        assert honcho.stdout is not None
        waiting = {
            "web": f"events at http://localhost:{port}/slack/events",
            "worker": "worker started",
        }
        seen: list[str] = []
        try:
            async with asyncio.timeout(90):
                while waiting:
                    line = (await honcho.stdout.readline()).decode()
                    assert line, "".join(seen)
                    seen.append(line)
                    for name, marker in list(waiting.items()):
                        if re.search(rf"\b{name}\.1\s+\|", line) and marker in line:
                            del waiting[name]
        finally:
            honcho.send_signal(signal.SIGTERM)
            seen.append((await honcho.stdout.read()).decode())
            await honcho.wait()
    output = "".join(seen)
    assert "discord" not in output
    assert "Error:" not in output


def test_the_readme_documents_every_setting() -> None:
    from bots.settings import Settings

    readme = (ROOT / "README.md").read_text()
    names = {(f.alias or name).upper() for name, f in Settings.model_fields.items()}
    assert {n for n in names if f"`{n}`" not in readme} == set()
