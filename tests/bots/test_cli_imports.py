"""The CLI starts in a blink because each command loads only what it uses, when it runs.

Read from ``sys.modules`` in a fresh ``fusion`` process (``tests.loaded_modules``), not timed:
``bench/bench_cli_startup.py`` measures the time. Eval's numpy and matplotlib load only for
``fusion eval``, discord.py only for Discord, slack only for Slack, Redis only where a command
opens it.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from tests.fakes.model_server import FakeModelServer
from tests.loaded_modules import loaded_after

CLI = "from bots.cli import main; main()"

PLATFORMS_AND_EVAL = (
    "numpy",
    "matplotlib",
    "fusion_eval",
    "discord",
    "slack_bolt",
    "slack_sdk",
)
SERVICES = ("redis", "saq", "limits", "structlog", "prometheus_client")
MODEL_STACK = ("pydantic_settings", "httpx", "aiohttp", "tenacity", "asyncio")


def test_the_command_list_loads_no_command_runtime() -> None:
    avoided = (*PLATFORMS_AND_EVAL, *SERVICES, *MODEL_STACK, "pydantic")
    assert loaded_after(CLI, avoided, args=["--help"]) == []


@pytest.mark.parametrize(
    "args",
    [
        ["ask", "--help"],
        ["eval", "--help"],
        ["pools", "--help"],
        ["budget", "--help"],
        ["budget", "show", "--help"],
        ["slack", "--help"],
        ["discord", "--help"],
        ["worker", "--help"],
        ["serve", "--help"],
        ["keys", "--help"],
        ["keys", "create", "--help"],
    ],
    ids=" ".join,
)
def test_a_commands_help_loads_no_command_runtime(args: list[str]) -> None:
    """Typer itself loads pydantic to convert a command's parameters, so it is allowed here."""
    avoided = PLATFORMS_AND_EVAL + SERVICES + MODEL_STACK
    assert loaded_after(CLI, avoided, args=args) == []


async def test_ask_loads_only_the_model_stack(
    model_server: FakeModelServer, cli_env: dict[str, str], tmp_path: Path
) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OPENROUTER_", "FUSION_"))}
    env = clean | cli_env | {"REDIS_URL": ""}
    loaded = await asyncio.to_thread(
        loaded_after,
        CLI,
        PLATFORMS_AND_EVAL + SERVICES,
        args=["ask", "6 x 7?"],
        env=env,
        cwd=tmp_path,
    )
    assert model_server.requests, "the fusion never reached the model server"
    assert loaded == []
