"""Signatures, retries, refusals that charge nothing, and admin-only commands."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest
import redis.asyncio as aioredis

from fusion_engine.money import usd_to_micros
from tests.adapters.slack.harness import SlackHarness, open_harness
from tests.fakes.slack_api import FakeSlack


def _form(text: str) -> str:
    return urllib.parse.urlencode(
        {"command": "/fuse", "text": text, "user_id": "U1", "channel_id": "C1", "team_id": "T0001"}
    )


@pytest.mark.parametrize(
    "sign", [{"secret": "wrong-secret"}, {"age_s": 600}], ids=["forged", "stale"]
)
async def test_forged_or_stale_signature_is_401_and_nothing_runs(
    slack: SlackHarness, sign: dict[str, Any]
) -> None:
    response = await slack.command("what is the answer?", **sign)
    assert response.status_code == 401
    assert slack.queue.jobs == {}
    unsigned = await slack.http.post(
        "/slack/events",
        content=_form("hi"),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert unsigned.status_code == 401
    assert slack.queue.jobs == {}


async def test_over_budget_is_refused_and_charges_nothing(slack: SlackHarness) -> None:
    tenant = "|T0001"
    await slack.budgets.set_limits(tenant, daily_micros=usd_to_micros("0.01"), monthly_micros=10**6)
    response = await slack.command("what is the answer?")
    text = response.json()["text"]
    assert "daily budget has $0.0100 left" in text
    assert "Nothing was charged" in text
    status = await slack.budgets.status(tenant)
    assert status.held_micros == 0
    assert status.daily_spent_micros == 0
    assert slack.queue.jobs == {}


async def test_rate_limited_user_is_refused(
    fake_slack: FakeSlack, redis_client: aioredis.Redis
) -> None:
    harness, server = await open_harness(fake_slack, redis_client, rate="1/minute")
    try:
        first = (await harness.command("one?")).json()["text"]
        second = (await harness.command("two?")).json()["text"]
        assert "Fusing with" in first
        assert "Too many questions" in second
        assert "Nothing was charged" in second
        assert len(harness.queue.jobs) == 1
        await harness.queue.join()
    finally:
        await harness.http.aclose()
        await server.close()


async def test_budget_set_is_for_admins_only(slack: SlackHarness) -> None:
    slack.fake.roles["UADMIN"] = "admin"
    denied = await slack.command("budget set --daily 1 --monthly 2", user="U1")
    assert denied.status_code == 200
    await slack.fake.wait_for(lambda f: len(f.responses) == 1)
    assert "Only workspace admins and owners" in slack.fake.responses[0][1]["text"]
    status = await slack.service.budget("|T0001")
    assert status.daily_limit_micros == 5_000_000

    await slack.command("budget set --daily 1 --monthly 2", user="UADMIN")
    await slack.fake.wait_for(lambda f: len(f.responses) == 2)
    assert "Limits updated" in slack.fake.responses[1][1]["text"]
    status = await slack.service.budget("|T0001")
    assert status.daily_limit_micros == 1_000_000
    assert status.monthly_limit_micros == 2_000_000
    checked = [c.args["user"] for c in slack.fake.of("users.info")]
    assert checked == ["U1", "UADMIN"]
    assert "above the monthly" not in slack.fake.responses[1][1]["text"]


async def test_a_daily_limit_above_the_monthly_one_is_set_with_a_warning(
    slack: SlackHarness,
) -> None:
    slack.fake.roles["UADMIN"] = "admin"
    await slack.command("budget set --daily 100 --monthly 1", user="UADMIN")
    await slack.fake.wait_for(lambda f: len(f.responses) == 1)
    text = slack.fake.responses[0][1]["text"]
    assert "Limits updated" in text
    assert text.endswith(
        "\n:warning: The daily limit ($100.00) is above the monthly limit ($1.00), "
        "so at most $1.00 can be spent in a day or a month."
    )


async def test_retried_and_duplicate_events_run_once(slack: SlackHarness) -> None:
    event = {
        "type": "app_mention",
        "user": "U1",
        "text": "<@UBOT> what is the answer?",
        "channel": "C1",
        "ts": "100.000001",
        "event_ts": "100.000001",
    }
    first = await slack.event(event, event_id="Ev1")
    retry = await slack.event(event, event_id="Ev1", retry=1)
    again = await slack.event(event, event_id="Ev1")
    assert [r.status_code for r in (first, retry, again)] == [200, 200, 200]
    await slack.fake.wait_for(lambda f: len(f.of("chat.postMessage")) >= 4)
    await slack.queue.join()
    assert list(slack.queue.jobs) == ["slack:ev:Ev1"]
    assert len(slack.runner.requests) == 1
    roots = [c for c in slack.fake.of("chat.postMessage") if "asked Fusion" in json.dumps(c.args)]
    assert len(roots) == 1
    assert roots[0].args["thread_ts"] == "100.000001"


async def test_duplicate_slash_delivery_is_not_queued_twice(slack: SlackHarness) -> None:
    await slack.command("what is the answer?")
    key = next(iter(slack.queue.jobs))
    job = slack.queue.jobs[key]
    accepted = await slack.service.submit(key, job.request, job.reply)
    assert accepted.duplicate
    await slack.queue.join()
    assert len(slack.runner.requests) == 1
