"""The manifest asks for exactly the scopes the code uses, and routes everything to the app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from adapters.slack import BOT_SCOPES, EVENTS_PATH

MANIFEST = Path(__file__).parents[3] / "slack_manifest.json"


def _manifest() -> dict[str, Any]:
    data = json.loads(MANIFEST.read_text())
    assert isinstance(data, dict)
    return data


def test_scopes_match_the_code() -> None:
    assert sorted(_manifest()["oauth_config"]["scopes"]["bot"]) == sorted(BOT_SCOPES)


def test_command_events_and_interactivity_reach_the_events_path() -> None:
    manifest = _manifest()
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/fuse"
    settings = manifest["settings"]
    urls = [command["url"], settings["event_subscriptions"]["request_url"]]
    urls.append(settings["interactivity"]["request_url"])
    assert all(url.endswith(EVENTS_PATH) for url in urls)
    assert set(settings["event_subscriptions"]["bot_events"]) == {"app_mention", "message.im"}
    assert manifest["oauth_config"]["redirect_urls"][0].endswith("/slack/oauth_redirect")
