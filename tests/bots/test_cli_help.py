"""What a newcomer reads in ``fusion --help`` and each command's help: flags that look like
flags, a plain usage line, ``ask`` first, ``--version``, and the variables each process needs."""

from __future__ import annotations

import re
from importlib.metadata import version

import pytest
from typer.testing import CliRunner

from bots.cli import app


def help_of(*args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_commands_are_listed_ask_first() -> None:
    listed = re.findall(r"^│ (\w+) ", help_of().split("Commands")[1], re.MULTILINE)
    assert listed[:2] == ["ask", "pools"]
    assert set(listed) == {
        *("ask", "pools", "slack", "discord", "worker", "serve", "budget", "keys", "eval")
    }


@pytest.mark.parametrize("args", [(), ("ask",), ("slack",), ("budget",), ("budget", "show")])
def test_flags_do_not_look_like_they_take_a_value(args: tuple[str, ...]) -> None:
    assert "<bool>" not in help_of(*args)


def test_ask_usage_names_the_question_plainly() -> None:
    assert "Usage: fusion ask [OPTIONS] QUESTION..." in help_of("ask")


def test_version_prints_the_installed_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"fusion {version('fusion')}\n"


@pytest.mark.parametrize(
    ("command", "variables"),
    [
        ("slack", ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "PORT"]),
        ("discord", ["DISCORD_TOKEN", "OPENROUTER_API_KEY", "REDIS_URL"]),
        ("worker", ["REDIS_URL", "SLACK_BOT_TOKEN", "DISCORD_TOKEN", "OPENROUTER_API_KEY"]),
    ],
)
def test_process_help_lists_the_variables_it_needs(command: str, variables: list[str]) -> None:
    text = " ".join(help_of(command).split())
    for variable in variables:
        assert variable in text
