"""The installed ``fusion`` console script, run as a real process against the fake server.

These prove the entry point, the environment-driven settings and the exit codes work outside
Typer's test runner. Each run pays the CLI's start-up time, so there are only a few.
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from fusion_engine.result import FusionResult
from tests.bots.conftest import PANEL, WRITER
from tests.fakes.model_server import FakeModelServer

FUSION = Path(sys.executable).parent / "fusion"


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


async def fusion(*args: str, env: dict[str, str], cwd: Path, stdin: str | None = None) -> Run:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OPENROUTER_", "FUSION_"))}
    proc = await asyncio.create_subprocess_exec(
        str(FUSION),
        *args,
        env=clean | env,
        cwd=cwd,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate(None if stdin is None else stdin.encode())
    assert proc.returncode is not None
    return Run(proc.returncode, out.decode(), err.decode())


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_console_script_fuses_from_stdin_as_json(
    model_server: FakeModelServer, cli_env: dict[str, str], tmp_path: Path
) -> None:
    run = await fusion(
        "ask", "--json", "-", env=cli_env, cwd=tmp_path, stdin="What is the answer?\n"
    )
    assert run.code == 0, run.stderr
    result = FusionResult.model_validate_json(run.stdout)
    assert result.question == "What is the answer?"
    assert {a.model for a in result.answers} == set(PANEL)
    assert result.writer.model == WRITER
    assert "answered in" in run.stderr
    assert model_server.calls(WRITER) == 1


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_console_script_prints_plain_text_when_piped(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    run = await fusion("ask", "What is the answer?", env=cli_env, cwd=tmp_path)
    assert run.code == 0, run.stderr
    assert "\x1b[" not in run.stdout  # a pipe gets no colours and no redraws
    assert "Fused answer (writer m/writer):" in run.stdout
    assert "Models: 3 of 3 answered" in run.stdout
    assert run.stderr == ""


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_console_script_refuses_bad_input_and_missing_key(
    model_server: FakeModelServer, cli_env: dict[str, str], tmp_path: Path
) -> None:
    bad, no_key = await asyncio.gather(
        fusion("ask", "--pool", "nope", "q?", env=cli_env, cwd=tmp_path),
        fusion("ask", "q?", env=cli_env | {"OPENROUTER_API_KEY": ""}, cwd=tmp_path),
    )
    assert (bad.code, bad.stdout) == (2, "")
    assert bad.stderr.splitlines() == ["Error: Unknown pool 'nope'. Choose one of: main, other."]
    assert (no_key.code, no_key.stdout) == (1, "")
    assert len(no_key.stderr.splitlines()) == 1
    assert no_key.stderr.startswith("Error: OPENROUTER_API_KEY is not set.")
    assert model_server.requests == []
