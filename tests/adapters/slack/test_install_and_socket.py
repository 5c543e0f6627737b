"""Multi-workspace install (the OAuth callback into a real SQLite store) and Socket Mode."""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer

from adapters.slack import InstallationTokens, build_app, open_oauth, socket_mode, web_app
from adapters.slack.install import async_db_url
from fusion_engine.errors import ConfigError
from tests.adapters.slack.harness import (
    SIGNING_SECRET,
    build_handlers,
    scripted_engine,
    signed_headers,
)
from tests.fakes.slack_api import BOT_TOKEN, TEAM_ID, FakeSlack


async def test_oauth_install_then_the_workspace_can_fuse(
    fake_slack: FakeSlack, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'installs.db'}"
    async with open_oauth(
        client_id="111.222", client_secret="shh", db_url=db, api_url=fake_slack.api_url
    ) as stores:
        runner = scripted_engine()
        handlers, _, _, queue, responder = build_handlers(fake_slack, redis_client, runner)
        responder.tokens = InstallationTokens(stores.installations)
        app = build_app(
            handlers,
            signing_secret=SIGNING_SECRET,
            api_url=fake_slack.api_url,
            oauth_flow=stores.flow,
        )
        server = TestServer(web_app(app), host="127.0.0.1")
        await server.start_server()
        try:
            async with httpx.AsyncClient(base_url=str(server.make_url(""))) as http:
                page = await http.get("/slack/install")
                assert page.status_code == 200
                match = re.search(r"state=([A-Za-z0-9-]+)", page.text)
                assert match is not None
                assert "client_id=111.222" in page.text
                # The state cookie is ``Secure``: a browser sends it back over HTTPS.
                cookie = page.headers["set-cookie"].split(";", 1)[0]
                assert cookie.endswith(match[1])
                callback = await http.get(
                    "/slack/oauth_redirect",
                    params={"code": "the-code", "state": match[1]},
                    headers={"Cookie": cookie},
                )
                assert callback.status_code == 200
                assert fake_slack.of("oauth.v2.access")[0].args["code"] == "the-code"
                bot = await stores.installations.async_find_bot(enterprise_id=None, team_id=TEAM_ID)
                assert bot is not None
                assert bot.bot_token == BOT_TOKEN

                forged = await http.get(
                    "/slack/oauth_redirect", params={"code": "x", "state": "not-issued"}
                )
                assert forged.status_code == 400

                form = urllib.parse.urlencode(
                    {
                        "command": "/fuse",
                        "text": "installed?",
                        "user_id": "U1",
                        "channel_id": "C1",
                        "team_id": TEAM_ID,
                        "trigger_id": "tr1",
                        "response_url": fake_slack.response_url(),
                    }
                )
                headers = {"Content-Type": "application/x-www-form-urlencoded"}
                ack = await http.post(
                    "/slack/events", content=form, headers=headers | signed_headers(form)
                )
                assert "Fusing with" in ack.json()["text"]
                await queue.join()
                posts = fake_slack.of("chat.postMessage")
                assert posts
                assert {c.token for c in posts} == {BOT_TOKEN}
                job = next(iter(queue.jobs.values()))
                assert job.reply.tenant == f"|{TEAM_ID}"
        finally:
            await server.close()


async def test_socket_mode_acks_a_slash_command(
    fake_slack: FakeSlack, redis_client: aioredis.Redis
) -> None:
    runner = scripted_engine()
    handlers, _, _, queue, _ = build_handlers(fake_slack, redis_client, runner)
    app = build_app(
        handlers, signing_secret=SIGNING_SECRET, api_url=fake_slack.api_url, bot_token=BOT_TOKEN
    )
    async with socket_mode(app, app_token="xapp-test", api_url=fake_slack.api_url):
        await fake_slack.push(
            {
                "envelope_id": "env-1",
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": {
                    "command": "/fuse",
                    "text": "over a socket?",
                    "user_id": "U1",
                    "channel_id": "C1",
                    "team_id": TEAM_ID,
                    "trigger_id": "tr-sock",
                    "response_url": fake_slack.response_url(),
                },
            }
        )
        ack = await fake_slack.ack_for("env-1")
        assert "Fusing with" in ack["payload"]["text"]
        await queue.join()
    assert fake_slack.of("apps.connections.open")[0].token == "xapp-test"
    assert list(queue.jobs) == ["slack:cmd:tr-sock"]
    assert fake_slack.of("chat.postMessage")


def test_database_urls_get_async_drivers(tmp_path: Path) -> None:
    url = async_db_url(f"sqlite:///{tmp_path}/sub/installs.db")
    assert (url.drivername, url.database) == ("sqlite+aiosqlite", f"{tmp_path}/sub/installs.db")
    assert (tmp_path / "sub").is_dir()
    pg = async_db_url("postgresql://u:p@db/fusion")
    assert pg.render_as_string(hide_password=False) == "postgresql+asyncpg://u:p@db/fusion"
    memory = async_db_url("sqlite+aiosqlite:///:memory:")
    assert (memory.drivername, memory.database) == ("sqlite+aiosqlite", ":memory:")
    with pytest.raises(ConfigError, match="not a database URL"):
        async_db_url("::nonsense::")
