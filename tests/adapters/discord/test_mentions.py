"""``@Fusion <question>`` in a channel, and follow-ups in the answer's thread."""

from __future__ import annotations

from fusion_engine.errors import RateLimited
from tests.adapters.discord.conftest import Running
from tests.fakes.discord_api import CHANNEL_ID, GUILD_ID, USER_ID, FakeDiscord

CHANNEL_POST = rf"/channels/{CHANNEL_ID}/messages"
ANSWER = "The sky is blue because of Rayleigh scattering."


async def test_mention_gets_a_reply_carrying_the_result(
    fake_discord: FakeDiscord, running: Running
) -> None:
    mention = fake_discord.mention("why is the sky blue?")
    await fake_discord.dispatch("MESSAGE_CREATE", mention)
    (job,) = await running.service.wait_jobs()

    placeholder_call = fake_discord.calls_to("POST", CHANNEL_POST)[0]
    assert str(placeholder_call.json["message_reference"]["message_id"]) == mention["id"]
    assert placeholder_call.json["allowed_mentions"]["parse"] == []
    placeholder = fake_discord.messages_in(CHANNEL_ID)[0]

    assert job.key == f"discord:{mention['id']}"
    assert job.request.question == "why is the sky blue?"
    assert job.reply.tenant == GUILD_ID
    assert job.reply.message_id == placeholder["id"]
    assert job.reply.interaction_token is None

    assert placeholder["content"] == ANSWER
    buttons = [b for row in placeholder["components"] for b in row["components"]]
    assert len(buttons) == 2
    edits = fake_discord.calls_to("PATCH", rf"{CHANNEL_POST}/{placeholder['id']}")
    assert all(c.json["allowed_mentions"] == {"parse": []} for c in edits)
    assert placeholder["id"] in fake_discord.state.threads


async def test_follow_up_in_the_thread_continues_the_conversation(
    fake_discord: FakeDiscord, running: Running
) -> None:
    await fake_discord.dispatch("MESSAGE_CREATE", fake_discord.mention("why is the sky blue?"))
    await running.service.wait_jobs()
    thread_id = fake_discord.messages_in(CHANNEL_ID)[0]["id"]
    threads_before = len(fake_discord.state.threads)

    follow = fake_discord.mention("and at sunset?", channel_id=thread_id)
    await fake_discord.dispatch("MESSAGE_CREATE", follow)
    _, job = await running.service.wait_jobs(2)

    assert job.reply.thread_id == thread_id
    assert job.reply.channel_id == thread_id
    assert [(t.role, t.content) for t in job.request.history] == [
        ("user", "why is the sky blue?"),
        ("assistant", ANSWER),
    ]
    assert len(fake_discord.state.threads) == threads_before, "no thread inside a thread"
    reply = next(m for m in fake_discord.messages_in(thread_id) if m["id"] == job.reply.message_id)
    assert reply["content"] == ANSWER


async def test_mention_where_the_bot_may_not_post_answers_by_dm(
    fake_discord: FakeDiscord, running: Running
) -> None:
    fake_discord.fail("POST", CHANNEL_POST)
    await fake_discord.dispatch("MESSAGE_CREATE", fake_discord.mention("q"))
    (job,) = await running.service.wait_jobs()
    assert job.reply.message_id is None
    (opened,) = fake_discord.calls_to("POST", r"/users/@me/channels")
    assert opened.json == {"recipient_id": USER_ID}
    dms = [c for c in fake_discord.calls_to("POST", r"/channels/\d+/messages") if c.status == 200]
    assert dms[0].json["content"].endswith(ANSWER)
    assert "I may not post in" in dms[0].json["content"]


async def test_refused_mention_edits_the_placeholder(
    fake_discord: FakeDiscord, running: Running
) -> None:
    running.service.refuse = RateLimited(USER_ID, limit="10/minute", retry_after_s=30)
    await fake_discord.dispatch("MESSAGE_CREATE", fake_discord.mention("q"))
    (edit,) = await fake_discord.wait_for_call("PATCH", rf"{CHANNEL_POST}/\d+")
    assert edit.json["content"].startswith("Sorry, I can't answer that: Too many questions")
    assert edit.json["allowed_mentions"]["parse"] == []
    assert running.service.jobs == []


async def test_messages_without_a_mention_are_ignored(
    fake_discord: FakeDiscord, running: Running
) -> None:
    plain = fake_discord.mention("q")
    plain["content"] = "just chatting"
    plain["mentions"] = []
    await fake_discord.dispatch("MESSAGE_CREATE", plain)
    await fake_discord.dispatch("MESSAGE_CREATE", fake_discord.mention("real question"))
    (job,) = await running.service.wait_jobs()
    assert job.request.question == "real question"


async def test_a_redelivered_mention_is_answered_once(
    fake_discord: FakeDiscord, running: Running
) -> None:
    mention = fake_discord.mention("q")
    await fake_discord.dispatch("MESSAGE_CREATE", mention)
    await fake_discord.dispatch("MESSAGE_CREATE", mention)
    await fake_discord.wait_for_call("DELETE", rf"{CHANNEL_POST}/\d+")
    (job,) = await running.service.wait_jobs()
    assert running.service.attempts == 2
    (left,) = [m for m in fake_discord.messages_in(CHANNEL_ID) if m["id"] == job.reply.message_id]
    assert left["content"] == ANSWER
    assert len(fake_discord.messages_in(CHANNEL_ID)) == 1, "the second placeholder is gone"


async def test_an_unexpected_failure_replaces_the_placeholder(
    fake_discord: FakeDiscord, running: Running
) -> None:
    running.service.refuse = RuntimeError("a bug")  # type: ignore[assignment]
    await fake_discord.dispatch("MESSAGE_CREATE", fake_discord.mention("q"))
    (edit,) = await fake_discord.wait_for_call("PATCH", rf"{CHANNEL_POST}/\d+")
    assert edit.json["content"].startswith("Something went wrong")
