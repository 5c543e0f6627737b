"""Where answers go: not-in-channel fallbacks, thread follow-ups, long answers, mention safety,
and the buttons."""

from __future__ import annotations

import json

from fusion_engine.request import FusionRequest
from fusion_engine.result import FusionResult, PanelAnswer
from tests.adapters.slack.harness import SlackHarness, posted_text
from tests.bots.samples import sample_result, usage
from tests.redis_text import text

HOSTILE = "<!channel> <!here> <!everyone> <@U999> <!subteam^S1|team> <https://evil|ok> & ```"


async def test_public_channel_is_joined_then_answered(slack: SlackHarness) -> None:
    slack.fake.not_member.add("CPUB")
    await slack.command("what is the answer?", channel="CPUB")
    await slack.queue.join()
    assert [c.args["channel"] for c in slack.fake.of("conversations.join")] == ["CPUB"]
    posts = [c for c in slack.fake.of("chat.postMessage") if c.args["channel"] == "CPUB"]
    assert len(posts) == 5  # one refused, then the message and three thread replies
    assert slack.fake.responses == []


async def test_private_channel_is_answered_through_response_url(slack: SlackHarness) -> None:
    slack.fake.not_member.add("CPRIV")
    slack.fake.private.add("CPRIV")
    await slack.command("what is the answer?", channel="CPRIV")
    await slack.queue.join()
    assert len(slack.fake.responses) == 1
    body = slack.fake.responses[0][1]
    assert body["response_type"] == "in_channel"
    assert any(b["type"] == "markdown" for b in body["blocks"])
    assert slack.fake.of("chat.update") == []


async def test_response_url_says_what_it_could_not_post(slack: SlackHarness) -> None:
    slack.fake.not_member.add("CPRIV")
    slack.fake.private.add("CPRIV")
    slack.script.make_result = _huge_result
    await slack.command("a very long one?", channel="CPRIV")
    await slack.queue.join()
    assert len(slack.fake.responses) == 5  # Slack's limit for one response_url
    last = slack.fake.responses[-1][1]
    assert "could not be posted" in last["text"]
    assert "Invite Fusion" in last["text"]


def _huge_result(request: FusionRequest) -> FusionResult:
    paragraph = "word " * 199 + "end.\n\n"
    answer = "".join(f"{i:04d} {paragraph}" for i in range(80))  # ~80,000 characters
    return sample_result().model_copy(update={"answer": answer})


def _long_result(request: FusionRequest) -> FusionResult:
    paragraph = "word " * 199 + "end.\n\n"
    answer = "".join(f"{i:04d} {paragraph}" for i in range(30))  # ~30,000 characters
    base = sample_result()
    beta = PanelAnswer(
        model="m/beta", served_by="m/beta", text=HOSTILE, latency_s=1.0, usage=usage()
    )
    return base.model_copy(update={"answer": answer + HOSTILE, "panel": (base.panel[0], beta)})


async def test_long_answer_is_split_never_truncated(slack: SlackHarness) -> None:
    slack.script.make_result = _long_result
    await slack.command("long one?")
    await slack.queue.join()
    final = slack.fake.of("chat.update")[-1].args
    markdown = [b["text"] for b in final["blocks"] if b["type"] == "markdown"]
    assert sum(len(t) for t in markdown) <= 12_000
    assert len(final["blocks"]) <= 50
    continuations = [
        b["text"]
        for c in slack.fake.of("chat.postMessage")[1:]
        for b in c.args["blocks"]
        if b["type"] == "markdown" and "part " in b["text"]
    ]
    assert len(continuations) >= 2
    joined = "".join(markdown + continuations)
    for i in range(30):
        assert f"{i:04d} word" in joined
    assert joined.index("0007 word") < joined.index("0023 word")
    assert "(part 1/" in markdown[0]
    for call in slack.fake.calls:
        for block in call.args.get("blocks") or []:
            if block["type"] == "section":
                assert len(block["text"]["text"]) <= 3000


async def test_model_output_cannot_ping_or_break_the_message(slack: SlackHarness) -> None:
    slack.script.make_result = _long_result
    await slack.command("safe?")
    await slack.queue.join()
    sent = posted_text(slack.fake)
    for token in ("<!channel>", "<!here>", "<!everyone>", "<@U999>", "<!subteam", "<https://evil"):
        assert token not in sent
    assert "&lt;!channel&gt;" in sent
    assert all("link_names" not in c.args for c in slack.fake.of("chat.postMessage"))


async def test_follow_up_in_thread_carries_the_conversation(slack: SlackHarness) -> None:
    slack.fake.thread_messages["200.000001"] = [
        {"ts": "200.000001", "user": "U1", "text": "<@UBOT> first question?"},
        {
            "ts": "200.000002",
            "bot_id": "B0001",
            "text": "Fused answer for <@U1>: first question?",
            "blocks": [{"type": "markdown", "text": "The earlier answer &amp; more."}],
        },
        {
            "ts": "200.000004",
            "bot_id": "B0001",
            "text": "alpha's answer",
            "blocks": [{"type": "markdown", "text": "One model's own answer."}],
        },
        {"ts": "200.000003", "user": "U1", "text": "<@UBOT> and why?"},
    ]
    event = {
        "type": "app_mention",
        "user": "U1",
        "text": "<@UBOT> and why?",
        "channel": "C1",
        "ts": "200.000003",
        "thread_ts": "200.000001",
    }
    await slack.event(event, event_id="EvThread")
    await slack.fake.wait_for(lambda f: len(f.of("chat.postMessage")) >= 4)
    await slack.queue.join()
    request = slack.runner.requests[0]
    assert request.question == "and why?"
    assert [(t.role, t.content) for t in request.history] == [
        ("user", "first question?"),
        ("assistant", "The earlier answer & more."),
    ]
    assert all(c.args.get("thread_ts") == "200.000001" for c in slack.fake.of("chat.postMessage"))


async def test_mention_refusal_is_told_only_to_the_asker(slack: SlackHarness) -> None:
    event = {
        "type": "app_mention",
        "user": "U1",
        "text": "<@UBOT> --pool nope why?",
        "channel": "C1",
        "ts": "300.000001",
    }
    await slack.event(event, event_id="EvBad")
    await slack.fake.wait_for(lambda f: len(f.of("chat.postEphemeral")) == 1)
    call = slack.fake.of("chat.postEphemeral")[0]
    assert call.args["user"] == "U1"
    assert "Unknown pool" in call.args["text"]
    assert slack.queue.jobs == {}


async def test_direct_message_is_answered_in_the_dm(slack: SlackHarness) -> None:
    event = {
        "type": "message",
        "channel_type": "im",
        "user": "U1",
        "text": "what is the answer?",
        "channel": "D1",
        "ts": "400.000001",
    }
    await slack.event(event, event_id="EvDm")
    await slack.fake.wait_for(lambda f: len(f.of("chat.postMessage")) >= 4)
    await slack.queue.join()
    root = slack.fake.of("chat.postMessage")[0]
    assert root.args["channel"] == "D1"
    assert "thread_ts" not in root.args


async def test_buttons_rerun_and_show_the_analysis(slack: SlackHarness) -> None:
    await slack.command("what is the answer?")
    await slack.queue.join()
    key = next(iter(slack.queue.jobs))
    shown = await slack.action("fusion_show_analysis", key)
    assert shown.status_code == 200
    await slack.fake.wait_for(lambda f: len(f.responses) == 1)
    analysis = json.dumps(slack.fake.responses[0][1])
    assert "Scores from the judge" in analysis
    assert slack.fake.responses[0][1]["response_type"] == "ephemeral"

    await slack.action("fusion_rerun", key, user="U2")
    await slack.fake.wait_for(lambda f: len(f.responses) == 2)
    assert "Fusing with" in slack.fake.responses[1][1]["text"]
    await slack.queue.join()
    assert len(slack.runner.requests) == 2
    rerun = next(j for k, j in slack.queue.jobs.items() if k != key)
    assert rerun.reply.user_id == "U2"
    assert rerun.request.question == "what is the answer?"

    await slack.action("fusion_rerun", "slack:cmd:unknown")
    await slack.fake.wait_for(lambda f: len(f.responses) == 3)
    assert "too old" in slack.fake.responses[2][1]["text"]


async def test_slack_rate_limit_is_waited_out(slack: SlackHarness) -> None:
    slack.fake.fail("chat.postMessage", "ratelimited", retry_after=0)
    await slack.command("what is the answer?")
    await slack.queue.join()
    posts = slack.fake.of("chat.postMessage")
    assert len(posts) == 5  # the 429, its retry, and three thread replies
    assert posts[0].args["blocks"] == posts[1].args["blocks"]


async def test_interrupted_delivery_resumes_without_duplicates(slack: SlackHarness) -> None:
    """A worker that died after two thread replies: the re-run posts only what is missing."""
    await slack.command("what is the answer?")
    await slack.queue.join()
    job = next(iter(slack.queue.jobs.values()))
    key = f"fusion:slack:msg:{job.key}"
    await slack.redis.hdel(key, "final")
    await slack.redis.hset(key, "replies", "2")
    before = len(slack.fake.of("chat.postMessage"))
    result = slack.script.make_result(job.request)
    await slack.responder.on_result(job, result, None)
    after = slack.fake.of("chat.postMessage")[before:]
    assert len(after) == 1
    assert "did not answer" in json.dumps(after[0].args["blocks"])
    updates = slack.fake.of("chat.update")
    assert updates[-1].args["ts"] == updates[0].args["ts"]


async def test_deleted_message_is_posted_again(slack: SlackHarness) -> None:
    await slack.command("what is the answer?")
    await slack.queue.join()
    job = next(iter(slack.queue.jobs.values()))
    await slack.redis.hdel(f"fusion:slack:msg:{job.key}", "final")
    slack.fake.fail("chat.update", "message_not_found")
    before = len(slack.fake.of("chat.postMessage"))
    await slack.responder.on_result(job, slack.script.make_result(job.request), None)
    reposted = slack.fake.of("chat.postMessage")[before]
    assert "Fused answer for" in reposted.args["text"]
    assert "thread_ts" not in reposted.args
    replies = slack.fake.of("chat.postMessage")[before + 1 :]
    assert len(replies) == 3
    new_ts = await slack.redis.hget(f"fusion:slack:msg:{job.key}", "ts")
    assert {r.args["thread_ts"] for r in replies} == {text(new_ts)}
