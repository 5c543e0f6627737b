"""``fusion slack``: registered on the CLI, and missing credentials say how to fix them."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from bots.cli import app
from bots.commands.slack import slack_credentials
from bots.settings import Settings
from fusion_engine.errors import ConfigError


def _settings(**values: object) -> Settings:
    return Settings.model_validate(
        {
            "slack_bot_token": None,
            "slack_signing_secret": None,
            "slack_app_token": None,
            "slack_client_id": None,
            "slack_client_secret": None,
            **values,
        }
    )


def test_slack_command_is_registered() -> None:
    result = CliRunner().invoke(app, ["slack", "--help"])
    assert result.exit_code == 0
    assert "Run the Slack app" in result.output


def test_no_credentials_says_where_to_start() -> None:
    with pytest.raises(ConfigError, match=r"slack_manifest\.json"):
        slack_credentials(_settings())


def test_http_mode_needs_the_signing_secret() -> None:
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET is not set"):
        slack_credentials(_settings(slack_bot_token=SecretStr("xoxb-1")))


def test_modes() -> None:
    single = _settings(slack_bot_token=SecretStr("xoxb-1"), slack_signing_secret=SecretStr("s"))
    assert slack_credentials(single) == ("s", "xoxb-1", None)
    oauth = _settings(
        slack_client_id="1.2",
        slack_client_secret=SecretStr("c"),
        slack_signing_secret=SecretStr("s"),
    )
    assert slack_credentials(oauth) == ("s", None, None)
    socket = _settings(slack_bot_token=SecretStr("xoxb-1"), slack_app_token=SecretStr("xapp-1"))
    assert slack_credentials(socket) == ("", "xoxb-1", "xapp-1")
