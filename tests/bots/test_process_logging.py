"""``fusion slack`` and ``fusion discord`` configure logging like ``fusion worker``: every line,
a library's included, comes out structured with its secrets masked.

``serve`` is replaced by a stand-in that logs what the libraries log (discord.py puts webhook
URLs with interaction tokens in its lines; a Slack error quotes a ``response_url``), so the test
reads what the command's own set-up makes of those lines.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import structlog
from typer.testing import CliRunner

from bots.cli import app
from bots.commands import discord as discord_command
from bots.commands import slack as slack_command

TOKEN = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDEyMzQ1Njc4OnNlY3JldHNlY3JldHNlY3JldA"
RESPONSE_URL = "https://hooks.slack.com/commands/T1/123/abcDEF456"


async def _logs_secrets(*_args: Any, **_kwargs: Any) -> None:
    logging.getLogger("discord.http").warning(
        "POST %s responded with 429", f"https://discord.com/api/v10/webhooks/1/{TOKEN}"
    )
    logging.getLogger("adapters.slack.app").info("could not answer via %s", RESPONSE_URL)
    structlog.get_logger("fusion").info("delivered", url=RESPONSE_URL)


@pytest.mark.parametrize("command", [slack_command, discord_command], ids=["slack", "discord"])
def test_chat_processes_log_structured_redacted_lines(
    command: Any, monkeypatch: pytest.MonkeyPatch, restore_logging: None
) -> None:
    monkeypatch.setattr(command, "serve", _logs_secrets)
    name = command.__name__.rsplit(".", 1)[-1]
    result = CliRunner().invoke(app, [name], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert [line["level"] for line in lines] == ["warning", "info", "info"]
    assert TOKEN not in result.stderr
    assert RESPONSE_URL not in result.stderr
