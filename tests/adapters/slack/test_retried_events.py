"""Retried Events API deliveries of mentions that are not accepted questions run once.

The service's job key dedupes accepted questions by themselves; what only the adapter's
``seen`` marker (``event_id``, ``SET NX``) protects is everything else a mention can do: answer
``help``, refuse a question — and not accept, on Slack's retry, a question its asker was already
told was refused. Slack retries an event it thinks was not acknowledged in time, with the same
``event_id`` and an ``X-Slack-Retry-Num`` header.
"""

from __future__ import annotations

from typing import Any

from fusion_engine.money import usd_to_micros
from tests.adapters.slack.harness import SlackHarness

TENANT = "|T0001"


def _mention(text: str, ts: str) -> dict[str, Any]:
    return {
        "type": "app_mention",
        "user": "U1",
        "text": f"<@UBOT> {text}",
        "channel": "C1",
        "ts": ts,
    }


async def _deliver_twice(slack: SlackHarness, event: dict[str, Any], event_id: str) -> None:
    """The delivery, then Slack's retry of it; each handled to the end before the next."""
    first = await slack.event(event, event_id=event_id)
    assert first.status_code == 200
    await slack.fake.wait_for(lambda f: len(f.of("chat.postEphemeral")) == 1)
    retry = await slack.event(event, event_id=event_id, retry=1)
    assert retry.status_code == 200
    # A retry that got through would post its reply right away: a later mention is answered
    # after it, so once that one is in, the retry has had its chance.
    await slack.event(_mention("pools", "9.000001"), event_id=f"{event_id}-later")
    await slack.fake.wait_for(lambda f: len(f.of("chat.postEphemeral")) >= 2)


async def test_a_retried_help_mention_is_answered_once(slack: SlackHarness) -> None:
    await _deliver_twice(slack, _mention("help", "1.000001"), "EvHelp")
    texts = [c.args["text"] for c in slack.fake.of("chat.postEphemeral")]
    assert len(texts) == 2
    assert texts[0].startswith("*Fusion* asks several AI models at once")
    assert texts[1].startswith("*Pools*")


async def test_a_retried_refusal_is_told_once(slack: SlackHarness) -> None:
    await _deliver_twice(slack, _mention("--pool nope why?", "2.000001"), "EvNope")
    texts = [c.args["text"] for c in slack.fake.of("chat.postEphemeral")]
    assert len(texts) == 2
    assert "Unknown pool" in texts[0]
    assert texts[1].startswith("*Pools*")
    assert slack.queue.jobs == {}


async def test_a_refused_question_stays_refused_when_slack_retries_it(slack: SlackHarness) -> None:
    """Over budget: refused. The admin raises the limit; Slack's retry of the same event must
    not turn the refusal the asker read into an answer and a charge after all."""
    await slack.budgets.set_limits(TENANT, daily_micros=1, monthly_micros=usd_to_micros("50"))
    event = _mention("why is the sky blue?", "3.000001")
    first = await slack.event(event, event_id="EvBudget")
    assert first.status_code == 200
    await slack.fake.wait_for(lambda f: len(f.of("chat.postEphemeral")) == 1)
    assert "daily budget" in slack.fake.of("chat.postEphemeral")[0].args["text"]

    await slack.budgets.set_limits(
        TENANT, daily_micros=usd_to_micros("5"), monthly_micros=usd_to_micros("50")
    )
    retry = await slack.event(event, event_id="EvBudget", retry=1)
    assert retry.status_code == 200
    await slack.event(_mention("pools", "9.000001"), event_id="EvBudget-later")
    await slack.fake.wait_for(lambda f: len(f.of("chat.postEphemeral")) >= 2)
    await slack.queue.join()

    assert slack.queue.jobs == {}
    assert slack.runner.requests == []
    status = await slack.budgets.status(TENANT)
    assert (status.daily_spent_micros, status.held_micros) == (0, 0)
    assert len(slack.fake.of("chat.postEphemeral")) == 2
