"""``fusion eval`` end to end: the real engine, client and pricing against the loopback fake.

The fake's writer marks its answer ``FUSED``; the eval's judges (recognised by the anonymized
"## Answer 1" prompt) always prefer that answer, whatever its position, so every valid
comparison is a win and the numbers in the report are known in advance.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from bots.cli import app
from bots.commands.eval import EvalProgressView
from bots.terminal import make_console
from fusion_eval import EvalProgress
from tests.bots.conftest import JUDGE, PANEL, WRITER, _text_for
from tests.fakes.model_server import FakeModelServer, ModelBehavior

QUESTIONS = '{"id": "one", "question": "Why is the sky blue?"}\n{"id": "two", "question": "Why?"}\n'


def _verdict(prompt: str) -> str:
    one = prompt.split("## Answer 1", 1)[1].split("## Answer 2", 1)[0]
    return '{"reason": "fuller", "winner": "%s"}' % ("1" if "FUSED" in one else "2")


def _text(body: dict[str, Any]) -> str:
    prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
    if "## Answer 1" in prompt:
        return _verdict(prompt)
    if body["model"] == WRITER:
        return "FUSED: the sky is blue because of Rayleigh scattering, as all agree."
    if body["model"] in PANEL:
        return "Scattering of sunlight by the air."
    return _text_for(body)


@pytest.fixture
def eval_server(model_server: FakeModelServer) -> FakeModelServer:
    """The shared CLI fake server, with every pool model answering through ``_text``."""
    for model in (*PANEL, JUDGE, WRITER):
        model_server.set(model, ModelBehavior(text=_text))
    return model_server


@pytest.fixture
def env(eval_server: FakeModelServer, cli_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    (tmp_path / "q.jsonl").write_text(QUESTIONS)
    return cli_env


async def invoke(args: Sequence[str], env: Mapping[str, str]) -> Result:
    runner = CliRunner()
    return await asyncio.to_thread(
        runner.invoke, app, ["eval", *args], env=dict(env), catch_exceptions=False
    )


def _chat_calls(server: FakeModelServer) -> int:
    return len(server.requests)


async def test_eval_writes_a_report_where_the_fused_answer_wins(
    eval_server: FakeModelServer, env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = await invoke(["--questions", str(tmp_path / "q.jsonl"), "--out", str(out)], env)
    assert result.exit_code == 0, result.output
    assert "pairwise: fused answer win rate 100.0%" in result.stdout
    assert "self_preference: fused answer win rate 100.0%" in result.stdout
    assert "2 run, 0 cached, 0 failed, 0 skipped" in result.stdout
    # Not a terminal: one line per settled question (they may finish in either order).
    done = sorted(line.split("] ", 1)[1] for line in result.stderr.splitlines() if "done" in line)
    assert [d.split(" (", 1)[0] for d in done] == ["one: done", "two: done"]
    assert "[2/2]" in result.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["judges"] == [JUDGE]
    assert report["judges_independent"] is True
    pairwise = report["tests"]["pairwise"]
    assert pairwise["overall"]["wins"] == 2 * len(PANEL)
    assert [row["label"] for row in pairwise["per_model"]] == list(PANEL)
    assert report["tests"]["self_preference"]["overall"]["wins"] == 2 * len(PANEL)
    assert report["spent_micros"] > 0
    assert report["spent_micros"] == report["recorded_micros"]
    assert (out / "win_rates.png").read_bytes()[:4] == b"\x89PNG"
    assert "## Pairwise test" in (out / "report.md").read_text()
    # 2 questions × (3 self + 3 independent comparisons) × 2 orders, all anonymous.
    judged = [json.dumps(r.body["messages"]) for r in eval_server.requests]
    judged = [text for text in judged if "## Answer 1" in text]
    assert len(judged) == 2 * 6 * 2
    assert not any(model in text for text in judged for model in PANEL)


async def test_a_second_run_resumes_from_the_cache(
    eval_server: FakeModelServer, env: dict[str, str], tmp_path: Path
) -> None:
    args = ["--questions", str(tmp_path / "q.jsonl"), "--out", str(tmp_path / "out")]
    first = await invoke(args, env)
    assert first.exit_code == 0, first.output
    calls = _chat_calls(eval_server)
    second = await invoke(args, env)
    assert second.exit_code == 0, second.output
    assert "0 run, 2 cached" in second.stdout
    assert "Spent $0.00" in second.stdout
    assert _chat_calls(eval_server) == calls


async def test_the_budget_cap_stops_before_anything_is_spent(
    eval_server: FakeModelServer, env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = ["--questions", str(tmp_path / "q.jsonl"), "--out", str(out), "--max-usd", "0.000001"]
    result = await invoke(args, env)
    assert result.exit_code == 0, result.output
    assert "0 run, 0 cached, 0 failed, 2 skipped" in result.stdout
    assert "Budget cap: stopped before question one" in result.stdout
    assert _chat_calls(eval_server) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["questions_skipped"] == ["one", "two"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--pool", "main", "--models", "a/b,c/d"], "--pool or --models"),
        (["--pool", "nope"], "Unknown pool"),
        (["--max-usd", "-1"], "--max-usd"),
        (["--judges", " , "], "--judges needs"),
        (["--questions", "/nonexistent/q.jsonl"], "Cannot read"),
    ],
)
async def test_bad_options_are_one_line_and_exit_2(
    eval_server: FakeModelServer, env: dict[str, str], args: list[str], message: str
) -> None:
    result = await invoke(args, env)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert message in lines[0]
    assert _chat_calls(eval_server) == 0


def test_the_terminal_progress_bar_shows_the_running_cost() -> None:
    stream = io.StringIO()
    console = make_console(stream, force_terminal=True)
    with EvalProgressView(console, total=2) as view:
        view.handle(EvalProgress("judging", "q1", 0, 2, 1_500, 3, 8))
        view.handle(EvalProgress("done", "q1", 1, 2, 12_345, 8, 8))
    out = stream.getvalue()
    assert "spent $0.0123" in out
    assert "1/2" in out
