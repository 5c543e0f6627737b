"""Play the user against a running ``fusion slack`` or ``fusion discord`` and the hand-run fakes,
and print the fused answer: the README's offline chat try-out.

``python -m tests.fakes.try_chat slack "question"`` signs a ``/fuse`` slash command with
``SLACK_SIGNING_SECRET`` and POSTs it to ``http://127.0.0.1:$PORT/slack/events`` (as Slack
would), then reads what the app posted from the fake Slack at ``SLACK_API_URL``.
``python -m tests.fakes.try_chat discord "question"`` asks the fake Discord at
``DISCORD_API_URL`` to have its user run ``/fuse`` in the channel (an ``INTERACTION_CREATE`` on
the gateway) and reads the bot's answer from it.

Both wait, up to ``--timeout`` seconds, for the Fusion process to come up, so they can follow
its start-up line in a script.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from adapters.slack.render import ANSWER_PREFIX
from tests.fakes.slack_requests import fuse_command_form, signed_headers

__all__ = ["main"]

JSON = dict[str, Any]


class TryOutError(Exception):
    """What went wrong, in one line for the user."""


def _calls(http: httpx.Client, fake: str, deadline: float, after: int) -> Iterator[JSON]:
    """Every call the fake records after the first ``after``, as they come, until ``deadline``."""
    while (left := deadline - time.monotonic()) > 0:
        wait = min(10.0, left)
        page = _json(http.get(f"{fake}/_fake/calls", params={"after": after, "wait": wait}))
        yield from page["calls"]
        after = page["next"]
    raise TryOutError("no answer arrived in time; see the Fusion process's log")


def _recorded(http: httpx.Client, fake: str) -> int:
    return int(_json(http.get(f"{fake}/_fake/calls", params={"after": 0, "wait": 0}))["next"])


def _json(response: httpx.Response) -> JSON:
    """The fake's answer; an ``httpx.HTTPStatusError`` when it has no such endpoint."""
    body: JSON = response.raise_for_status().json()
    return body


def _until_up(send: Callable[[], httpx.Response], deadline: float, what: str) -> httpx.Response:
    """``send()``, retried while the Fusion process is not listening yet."""
    while True:
        try:
            response = send()
        except httpx.TransportError:
            response = None
        if response is not None and response.status_code != 503:
            return response
        if time.monotonic() > deadline:
            raise TryOutError(f"{what} did not come up; is it running?")
        time.sleep(0.5)


def try_slack(http: httpx.Client, question: str, deadline: float) -> str:
    secret = os.environ.get("SLACK_SIGNING_SECRET")
    if not secret:
        raise TryOutError("set SLACK_SIGNING_SECRET to the one `fusion slack` uses")
    fake = os.environ.get("SLACK_API_URL", "http://127.0.0.1:8798/api/").removesuffix("/")
    fake = fake.removesuffix("/api")
    events = f"http://127.0.0.1:{os.environ.get('PORT', '3000')}/slack/events"
    seen = _recorded(http, fake)
    form = fuse_command_form(
        question,
        response_url=f"{fake}/response/{uuid.uuid4().hex}",
        trigger_id=f"try-chat-{uuid.uuid4().hex}",
    )

    def send() -> httpx.Response:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        return http.post(
            events, content=form, headers=headers | signed_headers(form, secret=secret)
        )

    ack = _until_up(send, deadline, f"`fusion slack` at {events}")
    if ack.status_code != 200:
        raise TryOutError(f"`fusion slack` answered {ack.status_code}: {ack.text}")
    said = (
        ack.json().get("text")
        if ack.headers.get("content-type", "").startswith("application/json")
        else ack.text
    )
    print(f"Fusion acknowledged: {said}", file=sys.stderr)
    for call in _calls(http, fake, deadline, seen):
        args = call["args"]
        if call["method"] in ("chat.update", "chat.postMessage") and str(
            args.get("text", "")
        ).startswith(ANSWER_PREFIX):
            blocks = args.get("blocks") or []
            answer = [b["text"] for b in blocks if b.get("type") == "markdown"]
            notes = [b["elements"][0]["text"] for b in blocks if b.get("type") == "context"]
            return "\n\n".join([*answer, *notes[-1:]])
    raise AssertionError("unreachable")  # pragma: no cover - _calls raises at the deadline


def try_discord(http: httpx.Client, question: str, deadline: float) -> str:
    api = os.environ.get("DISCORD_API_URL", "http://127.0.0.1:8797/api/v10")
    fake = api.removesuffix("/").removesuffix("/api/v10")
    seen = _recorded(http, fake)
    left = max(1.0, deadline - time.monotonic())
    asked = _until_up(
        lambda: http.post(f"{fake}/_fake/fuse", json={"question": question, "wait": left}),
        deadline,
        "`fusion discord` (connected to the fake's gateway)",
    )
    if asked.status_code != 200:
        raise TryOutError(f"the fake Discord answered {asked.status_code}: {asked.text}")
    original = re.compile(rf"/webhooks/\d+/{re.escape(asked.json()['token'])}/messages/@original")
    for call in _calls(http, fake, deadline, seen):
        body = call["json"] or {}
        if (
            call["method"] == "PATCH"
            and original.fullmatch(call["path"])
            and body.get("components")
        ):
            footer = [e["description"] for e in body.get("embeds") or [] if e.get("description")]
            return "\n\n".join([body.get("content") or "", *footer[-1:]])
    raise AssertionError("unreachable")  # pragma: no cover - _calls raises at the deadline


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("platform", choices=["slack", "discord"])
    parser.add_argument("question")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait in all")
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.timeout
    ask = try_slack if args.platform == "slack" else try_discord
    try:
        with httpx.Client(timeout=30) as http:
            print(ask(http, args.question, deadline))
    except (TryOutError, httpx.HTTPError) as exc:
        sys.exit(f"Error: {exc}")


if __name__ == "__main__":
    main()
