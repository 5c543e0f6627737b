"""``fusion discord`` start-up errors, and ``open_responder`` for worker processes."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from adapters.discord import DiscordStore, open_responder
from bots.commands.discord import register, require_token
from bots.settings import Settings
from fusion_engine.config import FusionConfig
from fusion_engine.errors import ConfigError
from fusion_engine.jobs.base import FusionJob, ReplyTarget
from fusion_engine.request import FusionRequest
from tests.adapters.discord.conftest import make_result
from tests.fakes.discord_api import CHANNEL_ID, GUILD_ID, USER_ID, FakeDiscord


def test_missing_token_says_how_to_get_one() -> None:
    with pytest.raises(ConfigError, match=r"DISCORD_TOKEN is not set.*Reset Token"):
        require_token(Settings(_env_file=None, discord_token=None))
    assert require_token(Settings(_env_file=None, discord_token=" abc ")) == "abc"


def test_cli_reports_a_missing_token_in_one_line() -> None:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Fusion."""

    register(app)
    result = CliRunner().invoke(app, ["discord"], env={"DISCORD_TOKEN": ""})
    assert result.exit_code == 1
    assert "Error: DISCORD_TOKEN is not set" in result.output
    assert "Traceback" not in result.output


async def test_open_responder_posts_for_a_worker_without_a_gateway(
    fake_discord: FakeDiscord, store: DiscordStore, config: FusionConfig
) -> None:
    job = FusionJob(
        key="discord:42",
        request=FusionRequest.create("why?", config.pool()),
        reply=ReplyTarget(
            platform="discord", tenant=GUILD_ID, channel_id=CHANNEL_ID, user_id=USER_ID
        ),
        quote_micros=10,
    )
    async with open_responder("fake-token", store) as responder:
        await responder.on_result(job, make_result(), None)
    (post,) = fake_discord.calls_to("POST", rf"/channels/{CHANNEL_ID}/messages")
    assert post.json["content"].startswith("The sky is blue")
    assert fake_discord.calls_to("GET", r"/users/@me"), "logged in with the bot token"
    assert (await store.posted(job.key)).done
