"""Garbage sent to ``/slack/events`` gets a short 4xx: no 500, no traceback, one log line.

Every shape here used to reach bolt (or aiohttp's body decoding) and come back as HTTP 500 with
a logged traceback, most of them without any signature at all. They go over real loopback HTTP
to the real aiohttp server and bolt app, as in production.
"""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.parse
from collections.abc import Callable

import httpx
import pytest
from slack_bolt.request.async_request import AsyncBoltRequest

from adapters.slack.gate import Refused, RequestGate
from tests.adapters.slack.harness import SIGNING_SECRET, SlackHarness, signed_headers

JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"
Headers = dict[str, str | bytes]
"""Bytes for values httpx would refuse to send as text (non-ASCII)."""
Junk = Callable[[], tuple[bytes, Headers]]


def _now() -> str:
    return str(int(time.time()))


def _signed(body: str, content_type: str) -> tuple[bytes, Headers]:
    return body.encode(), {"Content-Type": content_type, **signed_headers(body)}


def _bad_timestamp(timestamp: str) -> Junk:
    def build() -> tuple[bytes, Headers]:
        body = urllib.parse.urlencode({"command": "/fuse", "text": "hi"})
        headers: Headers = {
            "Content-Type": FORM_TYPE,
            "X-Slack-Request-Timestamp": timestamp.encode(),
            "X-Slack-Signature": "v0=" + "0" * 64,
        }
        return body.encode(), headers

    return build


def _non_ascii_signature() -> tuple[bytes, Headers]:
    body = urllib.parse.urlencode({"command": "/fuse", "text": "hi"})
    headers: Headers = {"X-Slack-Request-Timestamp": _now(), "X-Slack-Signature": "v0=é".encode()}
    return body.encode(), {"Content-Type": FORM_TYPE, **headers}


def _not_utf8() -> tuple[bytes, Headers]:
    body = b"command=%2Ffuse&text=\xff\xfe\xfa"
    headers: Headers = {"X-Slack-Request-Timestamp": _now(), "X-Slack-Signature": "v0=" + "0" * 64}
    return body, {"Content-Type": FORM_TYPE, **headers}


JUNK: dict[str, tuple[Junk, int]] = {
    "timestamp-not-a-number": (_bad_timestamp("abc"), 401),
    "timestamp-arabic-digits": (_bad_timestamp("١٧٠٠٠٠٠٠٠٠"), 401),
    "timestamp-5000-digits": (_bad_timestamp("9" * 5000), 401),
    "signature-not-ascii": (_non_ascii_signature, 401),
    "body-not-utf8": (_not_utf8, 400),
    "signed-json-cut-short": (lambda: _signed('{"type": "event_callback", "ev', JSON_TYPE), 400),
    "signed-json-array": (lambda: _signed("[1, 2, 3]", JSON_TYPE), 400),
    "signed-json-string": (lambda: _signed('"event_callback"', JSON_TYPE), 400),
    "signed-json-wrong-types": (lambda: _signed('{"team": 5, "type": 7}', JSON_TYPE), 400),
    "signed-form-payload-not-json": (lambda: _signed("payload=%7Bnope", FORM_TYPE), 400),
    "signed-form-payload-array": (lambda: _signed("payload=%5B1%5D", FORM_TYPE), 400),
}


_NOT_THE_APP = ("httpx", "httpcore", "aiohttp.access", "fusion_engine.jobs.worker")
"""The test's own HTTP client, aiohttp's access log (one line per request, by design), and the
in-process worker, whose lines are about the jobs the real requests queued (the scripted
result has a failed panel member), not about the junk."""


def _app_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """What the server side logged."""
    return [r for r in caplog.records if not r.name.startswith(_NOT_THE_APP)]


@pytest.mark.parametrize("shape", list(JUNK), ids=list(JUNK))
async def test_junk_gets_a_short_4xx(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture, shape: str
) -> None:
    build, status = JUNK[shape]
    body, headers = build()
    caplog.set_level(logging.DEBUG)
    response = await slack.http.post(
        "/slack/events",
        content=body,
        headers=headers,  # type: ignore[arg-type]  # raw bytes on purpose: junk headers
    )
    assert response.status_code == status
    records = _app_records(caplog)
    assert len(records) <= 1, [r.getMessage() for r in records]
    for record in records:
        assert record.exc_info is None
        assert len(record.getMessage()) < 120
    assert "Traceback" not in caplog.text
    assert slack.queue.jobs == {}
    assert slack.fake.calls == []


async def test_oversized_body_is_413_without_a_traceback(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = b"x" * (2 * 1024 * 1024)
    headers = {"Content-Type": FORM_TYPE, "X-Slack-Request-Timestamp": _now()}
    response = await slack.http.post(
        "/slack/events",
        content=body,
        headers=headers,
    )
    assert response.status_code == 413
    assert "Traceback" not in caplog.text
    assert len(_app_records(caplog)) <= 1


async def test_a_junk_flood_does_not_stop_real_requests(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture
) -> None:
    """1,000 junk requests (every shape above) interleaved with 20 real ``/fuse`` commands:
    every junk one is refused with its 4xx and every real one is acked with its quote."""
    caplog.set_level(logging.INFO)
    shapes = list(JUNK.values())
    limit = asyncio.Semaphore(50)

    async def junk(i: int) -> int:
        build, status = shapes[i % len(shapes)]
        body, headers = build()
        async with limit:
            response = await slack.http.post(
                "/slack/events",
                content=body,
                headers=headers,  # type: ignore[arg-type]  # raw bytes on purpose: junk headers
            )
        assert response.status_code == status
        return status

    async def real(i: int) -> httpx.Response:
        async with limit:
            return await slack.command(f"real question {i}?", user=f"U{i}")

    junk_tasks: list[asyncio.Task[int]] = []
    real_tasks: list[asyncio.Task[httpx.Response]] = []
    for i in range(1000):  # the semaphore admits them in this order: one real per 50 junk
        junk_tasks.append(asyncio.create_task(junk(i)))
        if i % 50 == 25:
            real_tasks.append(asyncio.create_task(real(len(real_tasks))))
    statuses = await asyncio.gather(*junk_tasks)
    acks = await asyncio.gather(*real_tasks)

    assert sorted(set(statuses)) == [400, 401]
    assert [r.status_code for r in acks] == [200] * 20
    assert all("Fusing with" in r.json()["text"] for r in acks)
    await slack.queue.join()
    assert len(slack.queue.jobs) == 20
    assert sorted(r.question for r in slack.runner.requests) == sorted(
        f"real question {i}?" for i in range(20)
    )
    assert "Traceback" not in caplog.text
    refusals = [r for r in _app_records(caplog) if r.getMessage().startswith("refused a Slack")]
    assert len(refusals) == 1000
    assert [r for r in _app_records(caplog) if r.levelno >= logging.WARNING] == []


def test_without_a_signing_secret_every_request_is_refused() -> None:
    """Socket Mode runs with no signing secret; its HTTP gate then admits nothing."""
    body = '{"type": "event_callback"}'
    headers = signed_headers(body)
    refused = RequestGate("").admit(body.encode(), headers, "")
    assert refused == Refused(401, "no signing secret is configured")
    assert isinstance(
        RequestGate(SIGNING_SECRET).admit(body.encode(), headers, ""), AsyncBoltRequest
    )
