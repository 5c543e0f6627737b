"""What Slack sends an app: signed request headers and the form of a ``/fuse`` slash command.

Shared by the Slack test harness and ``tests.fakes.try_chat`` (which plays the user against a
running ``fusion slack``), so both send exactly what Slack would.
"""

from __future__ import annotations

import time
import urllib.parse

from slack_sdk.signature import SignatureVerifier

from tests.fakes.slack_api import TEAM_ID

__all__ = ["fuse_command_form", "signed_headers"]


def signed_headers(body: str, *, secret: str, age_s: float = 0) -> dict[str, str]:
    """Slack's timestamp and v0 signature of ``body``, ``age_s`` seconds old."""
    timestamp = str(int(time.time() - age_s))
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    assert signature is not None
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}


def fuse_command_form(
    text: str, *, response_url: str, trigger_id: str, user: str = "U1", channel: str = "C1"
) -> str:
    """The url-encoded body of ``/fuse text`` typed by ``user`` in ``channel``."""
    form = {
        "command": "/fuse",
        "text": text,
        "user_id": user,
        "channel_id": channel,
        "team_id": TEAM_ID,
        "trigger_id": trigger_id,
        "response_url": response_url,
    }
    return urllib.parse.urlencode(form)
