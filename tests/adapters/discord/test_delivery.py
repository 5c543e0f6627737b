"""Where answers go when the easy path is closed: expired interaction tokens, missing
permissions, re-runs after a crash. The answer must still reach the user, exactly once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from adapters.discord import DiscordStore, open_responder
from fusion_engine.config import FusionConfig
from fusion_engine.errors import QuorumError
from fusion_engine.events import FusionStarted, MemberFinished
from fusion_engine.jobs.base import FusionJob, ReplyTarget
from fusion_engine.request import FusionRequest
from tests.adapters.discord.conftest import Running, make_result, question
from tests.fakes.discord_api import CHANNEL_ID, USER_ID, FakeDiscord

ORIGINAL = r"/webhooks/\d+/[^/]+/messages/@original"
CHANNEL_POST = rf"/channels/{CHANNEL_ID}/messages"
ANSWER = "The sky is blue because of Rayleigh scattering."


async def test_after_fifteen_minutes_the_answer_goes_to_the_channel(
    fake_discord: FakeDiscord, running: Running
) -> None:
    old = datetime.now(UTC) - timedelta(minutes=20)
    event = fake_discord.slash_command("fuse", question("q"), at=old)
    await fake_discord.dispatch("INTERACTION_CREATE", event)
    await running.service.wait_jobs()

    assert fake_discord.calls_to("PATCH", ORIGINAL) == [], "an expired token is not used"
    (post,) = fake_discord.calls_to("POST", CHANNEL_POST)
    assert post.json["content"] == ANSWER
    assert post.json["allowed_mentions"] == {"parse": []}
    message_id = fake_discord.messages_in(CHANNEL_ID)[-1]["id"]
    assert fake_discord.calls_to("POST", rf"/channels/{CHANNEL_ID}/messages/{message_id}/threads")


async def test_an_invalid_token_falls_back_to_the_channel(
    fake_discord: FakeDiscord, running: Running
) -> None:
    fake_discord.fail("PATCH", ORIGINAL, status=401, code=50027, message="Invalid Webhook Token")
    event = fake_discord.slash_command("fuse", question("q"))
    await fake_discord.dispatch("INTERACTION_CREATE", event)
    await running.service.wait_jobs()

    failed = fake_discord.calls_to("PATCH", ORIGINAL)
    assert len(failed) == 1, "after Discord says the token is dead, it is not tried again"
    assert failed[0].status == 401
    (post,) = fake_discord.calls_to("POST", CHANNEL_POST)
    assert post.json["content"] == ANSWER


async def test_no_thread_permission_is_reported_and_answer_still_arrives(
    fake_discord: FakeDiscord, running: Running
) -> None:
    fake_discord.fail("POST", r"/channels/\d+/messages/\d+/threads")
    event = fake_discord.slash_command("fuse", question("q"))
    await fake_discord.dispatch("INTERACTION_CREATE", event)
    await running.service.wait_jobs()

    assert fake_discord.original(event["token"])["content"] == ANSWER
    (notice,) = fake_discord.calls_to("POST", rf"/webhooks/\d+/{event['token']}")
    assert "couldn't open a thread" in notice.json["content"]
    assert "Create Public Threads" in notice.json["content"]
    assert "Missing Permissions" in notice.json["content"]


async def test_no_permission_to_post_in_the_thread_is_reported(
    fake_discord: FakeDiscord, running: Running
) -> None:
    fake_discord.fail("POST", r"/channels/(?!" + CHANNEL_ID + r")\d+/messages")
    event = fake_discord.slash_command("fuse", question("q"))
    await fake_discord.dispatch("INTERACTION_CREATE", event)
    await running.service.wait_jobs()

    (notice,) = fake_discord.calls_to("POST", rf"/webhooks/\d+/{event['token']}")
    assert "couldn't post in the thread" in notice.json["content"]


async def test_expired_and_no_send_permission_answers_by_dm(
    fake_discord: FakeDiscord, running: Running
) -> None:
    fake_discord.fail("POST", CHANNEL_POST)
    old = datetime.now(UTC) - timedelta(minutes=20)
    await fake_discord.dispatch(
        "INTERACTION_CREATE", fake_discord.slash_command("fuse", question("q"), at=old)
    )
    await running.service.wait_jobs()

    (opened,) = fake_discord.calls_to("POST", r"/users/@me/channels")
    assert opened.json == {"recipient_id": USER_ID}
    dm = [c for c in fake_discord.calls_to("POST", r"/channels/\d+/messages") if c.status == 200]
    assert dm[0].json["content"].endswith(ANSWER)
    assert f"I may not post in <#{CHANNEL_ID}>" in dm[0].json["content"]
    assert dm[0].json["allowed_mentions"] == {"parse": []}


async def test_a_rerun_edits_instead_of_posting_again(
    fake_discord: FakeDiscord, running: Running, store: DiscordStore
) -> None:
    long_answer = "\n\n".join(f"Part {i}. " + "lorem ipsum " * 60 for i in range(12))
    result = make_result(long_answer)
    running.service.result = lambda _r: result
    event = fake_discord.slash_command("fuse", question("q"))
    await fake_discord.dispatch("INTERACTION_CREATE", event)
    (job,) = await running.service.wait_jobs()
    posts_before = [c for c in fake_discord.calls if c.method == "POST"]
    messages_before = len(fake_discord.state.messages)

    budget = await running.service.budget(job.reply.tenant)
    calls_before = len(fake_discord.calls)
    await running.responder.on_result(job, result, budget)
    assert len(fake_discord.calls) == calls_before, "already delivered: nothing at all"

    # A crash after posting but before the responder marked the job done: edit, never repost.
    posted = await store.posted(job.key)
    await store.save_posted(job.key, posted.model_copy(update={"done": False}))
    await running.responder.on_result(job, result, budget)
    assert [c for c in fake_discord.calls if c.method == "POST"] == posts_before
    assert len(fake_discord.state.messages) == messages_before
    assert fake_discord.calls_to("PATCH", r"/webhooks/\d+/[^/]+/messages/\d+"), "parts edited"


async def test_a_failed_fusion_says_why(fake_discord: FakeDiscord, running: Running) -> None:
    running.service.error = QuorumError(1, 3, {"qwen/qwen3-max": "timed out"})
    event = fake_discord.slash_command("fuse", question("q"))
    await fake_discord.dispatch("INTERACTION_CREATE", event)
    await running.service.wait_jobs()
    content = fake_discord.original(event["token"])["content"]
    assert content.startswith("Sorry, I couldn't answer that: only 1 of the panel answered")
    assert "qwen/qwen3-max: timed out" in content


async def test_progress_edits_are_throttled(
    fake_discord: FakeDiscord, store: DiscordStore, config: FusionConfig
) -> None:
    """A burst of events inside one interval makes one edit; the final answer still lands."""
    result = make_result(panel_texts={f"m/{i}": f"answer {i}" for i in range(8)})
    job = FusionJob(
        key="discord:7",
        request=FusionRequest.create("q", config.pool()),
        reply=ReplyTarget(
            platform="discord",
            tenant="g",
            channel_id=CHANNEL_ID,
            message_id=fake_discord.snowflake(),
            user_id=USER_ID,
        ),
        quote_micros=1,
    )
    fake_discord.state.messages[job.reply.message_id or ""] = {"id": job.reply.message_id}
    frozen = 100.0
    async with open_responder(
        "t", store, min_edit_interval_s=1.0, clock=lambda: frozen
    ) as responder:
        models = tuple(m.model for m in result.panel)
        await responder.on_event(
            job, FusionStarted(request_id="r", models=models, judge="j", writer="w")
        )
        for answer in result.answers:
            await responder.on_event(job, MemberFinished(answer=answer))
        edits = fake_discord.calls_to("PATCH", rf"{CHANNEL_POST}/\d+")
        assert len(edits) == 1
        await responder.on_result(job, result, None)
    final = fake_discord.calls_to("PATCH", rf"{CHANNEL_POST}/\d+")[-1]
    assert final.json["content"] == ANSWER
    assert len(fake_discord.calls_to("PATCH", rf"{CHANNEL_POST}/\d+")) == 2


async def test_a_long_failure_reason_is_split_not_cut(
    fake_discord: FakeDiscord, running: Running
) -> None:
    reasons = {f"vendor/model-{i}": f"HTTP 502: {'upstream exploded ' * 20}#{i}" for i in range(8)}
    running.service.error = QuorumError(0, 3, reasons)
    event = fake_discord.slash_command("fuse", question("q"))
    await fake_discord.dispatch("INTERACTION_CREATE", event)
    await running.service.wait_jobs()
    parts = [fake_discord.original(event["token"])["content"]]
    parts += [c.json["content"] for c in fake_discord.calls_to("POST", r"/webhooks/\d+/[^/]+")]
    assert len(parts) > 1
    assert all(len(p) <= 2000 for p in parts)
    assert "".join(parts).endswith("#7)")
    assert all(f"#{i}" in "".join(parts) for i in range(8))
