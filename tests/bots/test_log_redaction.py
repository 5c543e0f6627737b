"""Secrets that libraries put in log lines never reach the output."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from bots.observability import configure_logging, redact
from fusion_engine.jobs.base import ReplyTarget
from fusion_engine.logs import get_logger

TOKEN = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDEyMzQ1Njc4OnNlY3JldHNlY3JldHNlY3JldA"
RESPONSE_URL = "https://hooks.slack.com/commands/T1/123/abcDEF456"


@pytest.mark.parametrize(
    "text",
    [
        f"POST https://discord.com/api/v10/webhooks/111/{TOKEN}/messages/@original 429",
        f"POST https://discord.com/api/v10/interactions/222/{TOKEN}/callback",
        repr(ReplyTarget(platform="discord", tenant="g", interaction_token=TOKEN)),
        ReplyTarget(platform="slack", tenant="t", response_url=RESPONSE_URL).model_dump_json(),
        "auth failed for xoxb-1234-5678-abcdefabcdef and xapp-1-A1-2-abcdef",
        "Incorrect API key provided: sk-or-v1-0123456789abcdef",
        f"Authorization: Bot {TOKEN}",
    ],
)
def test_redact_masks_every_secret_shape(text: str) -> None:
    cleaned = redact(text)
    for secret in (TOKEN, RESPONSE_URL, "abcdefabcdef", "0123456789abcdef", "abcDEF456"):
        assert secret not in cleaned
    assert "***" in cleaned


def test_library_log_lines_and_tracebacks_are_redacted(
    capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    configure_logging("INFO", json=True)
    target = ReplyTarget(platform="discord", tenant="g", interaction_token=TOKEN)
    try:
        raise RuntimeError(f"delivery failed for {target!r}")
    except RuntimeError:
        logging.getLogger("saq").exception("Error processing job %s", target)
    logging.getLogger("discord.http").warning(
        "We are being rate limited. %s %s responded with 429",
        "POST",
        f"https://discord.com/api/v10/webhooks/1/{TOKEN}",
    )
    structlog.get_logger("fusion").info("delivered", url=RESPONSE_URL, job="k1")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    assert len(lines) == 3
    assert "Error processing job" in lines[0]["event"]
    assert "RuntimeError" in lines[0]["exception"]
    assert lines[2]["job"] == "k1"
    output = json.dumps(lines)
    assert TOKEN not in output
    assert RESPONSE_URL not in output


def test_our_fields_become_keys_and_are_redacted(
    capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    configure_logging("INFO", json=True)
    log = get_logger("fusion_engine.jobs.worker").bind(job="k1", tenant="t1")
    log.info("delivered", url=RESPONSE_URL, charged_micros=1200, name="clashes")
    (line,) = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    assert line["event"] == "delivered"
    assert line["logger"] == "fusion_engine.jobs.worker"
    assert (line["job"], line["tenant"], line["charged_micros"]) == ("k1", "t1", 1200)
    assert line["name_"] == "clashes"
    assert RESPONSE_URL not in json.dumps(line)
