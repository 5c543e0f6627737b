"""``/fuse`` end to end: real discord.py client ↔ loopback fake Discord, real Redis."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.discord.render import BUTTON_ID
from fusion_engine.errors import BudgetExceeded, RateLimited
from tests.adapters.discord.conftest import Running, question
from tests.fakes.discord_api import CHANNEL_ID, GUILD_ID, USER_ID, FakeDiscord

CALLBACK = r"/interactions/\d+/[^/]+/callback"
ORIGINAL = r"/webhooks/\d+/[^/]+/messages/@original"


async def test_defers_first_then_edits_the_answer_in(
    fake_discord: FakeDiscord, running: Running
) -> None:
    event = fake_discord.slash_command("fuse", question("why is the sky blue?"))
    await fake_discord.dispatch("INTERACTION_CREATE", event)
    (job,) = await running.service.wait_jobs()

    callback = fake_discord.calls_to("POST", CALLBACK)[0]
    assert callback.json["type"] == 5  # deferred "thinking", public
    assert not (callback.json.get("data") or {}).get("flags", 0) & 64
    first_rest = [c for c in fake_discord.calls if c.path.startswith(("/interactions", "/web"))]
    assert first_rest[0] is callback

    assert job.key == f"discord:{event['id']}"
    assert job.reply.tenant == GUILD_ID
    assert job.reply.platform == "discord"
    assert job.reply.interaction_token == event["token"]
    assert job.request.question == "why is the sky blue?"
    assert job.request.pool.name == "research"

    edits = fake_discord.calls_to("PATCH", ORIGINAL)
    assert len(edits) >= 2, "progress, then the answer"
    assert all(c.json["allowed_mentions"] == {"parse": []} for c in edits)
    assert "models" in edits[0].json["content"]

    final = fake_discord.original(event["token"])
    assert final["content"] == "The sky is blue because of Rayleigh scattering."
    embeds = "\n".join(e["description"] for e in final["embeds"])
    for heading in ("Where they agree", "Where they differ", "Nobody covered"):
        assert heading in embeds
    assert "role of ozone" in embeds
    assert "$0.0029" in embeds
    assert "budget left" in embeds

    buttons = [b for row in final["components"] for b in row["components"]]
    assert [b["label"] for b in buttons] == ["openai/gpt-5.4", "qwen/qwen3-max"]
    match = BUTTON_ID.fullmatch(buttons[1]["custom_id"])
    assert match is not None
    assert (match["key"], match["index"]) == (job.key, "1")


async def test_thread_holds_each_models_answer(fake_discord: FakeDiscord, running: Running) -> None:
    event = fake_discord.slash_command("fuse", question("why is the sky blue?"))
    await fake_discord.dispatch("INTERACTION_CREATE", event)
    await running.service.wait_jobs()

    answer_id = fake_discord.state.originals[event["token"]]
    (start,) = fake_discord.calls_to(
        "POST", rf"/channels/{CHANNEL_ID}/messages/{answer_id}/threads"
    )
    assert start.json["name"] == "why is the sky blue?"
    posts = fake_discord.messages_in(answer_id)
    assert [p["content"].splitlines()[0] for p in posts] == [
        "**openai/gpt-5.4** · 1.5 s · $0.0012",
        "**qwen/qwen3-max** · 1.5 s · $0.0012",
    ]
    assert posts[0]["content"].endswith("Rayleigh scattering.")
    thread_calls = fake_discord.calls_to("POST", rf"/channels/{answer_id}/messages")
    assert all(c.json["allowed_mentions"] == {"parse": []} for c in thread_calls)


async def test_pool_option_and_autocomplete(fake_discord: FakeDiscord, running: Running) -> None:
    typing = fake_discord.slash_command(
        "fuse",
        [*question("q"), {"name": "pool", "type": 3, "value": "tech", "focused": True}],
        autocomplete=True,
    )
    await fake_discord.dispatch("INTERACTION_CREATE", typing)
    (call,) = await fake_discord.wait_for_call("POST", CALLBACK)
    assert call.json["type"] == 8
    assert [c["value"] for c in call.json["data"]["choices"]] == ["technical"]

    event = fake_discord.slash_command("fuse", question("q", pool="budget"))
    await fake_discord.dispatch("INTERACTION_CREATE", event)
    (job,) = await running.service.wait_jobs()
    assert job.request.pool.name == "budget"


async def _assert_refused(fake: FakeDiscord, running: Running, event: dict[str, object]) -> str:
    await fake.dispatch("INTERACTION_CREATE", event)
    (followup,) = await fake.wait_for_call("POST", rf"/webhooks/\d+/{event['token']}")
    assert fake.calls_to("POST", CALLBACK)[0].json["type"] == 5
    assert fake.calls_to("DELETE", ORIGINAL), "the public 'thinking' message is removed"
    assert followup.json["flags"] & 64, "refusals are ephemeral"
    assert followup.json["allowed_mentions"]["parse"] == []
    assert running.service.jobs == [], "nothing was queued, nothing charged"
    return str(followup.json["content"])


async def test_over_budget_is_refused_ephemerally(
    fake_discord: FakeDiscord, running: Running
) -> None:
    running.service.refuse = BudgetExceeded(
        GUILD_ID,
        window="daily",
        remaining_micros=10,
        quote_micros=50_000,
        resets_at=datetime(2030, 1, 1, tzinfo=UTC),
    )
    text = await _assert_refused(
        fake_discord, running, fake_discord.slash_command("fuse", question("q"))
    )
    assert "daily budget" in text


async def test_rate_limited_is_refused_ephemerally(
    fake_discord: FakeDiscord, running: Running
) -> None:
    running.service.refuse = RateLimited(USER_ID, limit="10/minute", retry_after_s=12)
    text = await _assert_refused(
        fake_discord, running, fake_discord.slash_command("fuse", question("q"))
    )
    assert "Try again in 12 s" in text


async def test_bad_input_is_refused_ephemerally(
    fake_discord: FakeDiscord, running: Running
) -> None:
    text = await _assert_refused(
        fake_discord, running, fake_discord.slash_command("fuse", question("q", pool="nope"))
    )
    assert "Unknown pool 'nope'" in text
    text2 = await _assert_refused(
        fake_discord, running, fake_discord.slash_command("fuse", question("x" * 9000))
    )
    assert "limit is 8,000" in text2


async def test_fuse_inside_an_answer_thread_continues_it(
    fake_discord: FakeDiscord, running: Running
) -> None:
    first = fake_discord.slash_command("fuse", question("why is the sky blue?"))
    await fake_discord.dispatch("INTERACTION_CREATE", first)
    await running.service.wait_jobs()
    thread_id = fake_discord.state.originals[first["token"]]
    assert thread_id in fake_discord.state.threads

    again = fake_discord.slash_command("fuse", question("and at sunset?"), thread_id=thread_id)
    await fake_discord.dispatch("INTERACTION_CREATE", again)
    _, job = await running.service.wait_jobs(2)
    assert job.reply.thread_id == thread_id
    assert [t.role for t in job.request.history] == ["user", "assistant"]
    assert len(fake_discord.calls_to("POST", r"/channels/\d+/messages/\d+/threads")) == 1


async def test_gateway_identify_asks_for_no_privileged_intent(
    fake_discord: FakeDiscord, running: Running
) -> None:
    (identify,) = fake_discord.identifies
    intents = identify["intents"]
    members, presences, message_content = 1 << 1, 1 << 8, 1 << 15
    assert intents & (members | presences | message_content) == 0
    guild_messages, dm_messages = 1 << 9, 1 << 12
    assert intents & guild_messages
    assert intents & dm_messages
    assert identify["token"] == "fake-token"
    assert fake_discord.gateway_queries[0]["v"] == "10"
    assert fake_discord.gateway_queries[0]["encoding"] == "json"


async def test_an_unexpected_failure_still_answers_the_user(
    fake_discord: FakeDiscord, running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    running.service.refuse = RuntimeError("a bug")  # type: ignore[assignment]
    event = fake_discord.slash_command("fuse", question("q"))
    await fake_discord.dispatch("INTERACTION_CREATE", event)
    (followup,) = await fake_discord.wait_for_call("POST", rf"/webhooks/\d+/{event['token']}")
    assert followup.json["flags"] & 64
    assert "Something went wrong" in followup.json["content"]
    assert "/fuse failed" in caplog.text
