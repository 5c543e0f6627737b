"""``/fuse`` over signed HTTP: the ack, the channel message, its updates, the thread replies."""

from __future__ import annotations

import json

from tests.adapters.slack.harness import SlackHarness, posted_text
from tests.fakes.slack_api import BOT_TOKEN


async def test_question_is_acked_with_the_quote_then_answered(slack: SlackHarness) -> None:
    response = await slack.command("what is the answer?")
    assert response.status_code == 200
    ack = response.json()
    models = len(slack.config.pool().models)
    assert ack["text"] == f":hourglass_flowing_sand: Fusing with {models} models, about $0.012345."
    assert ack.get("response_type", "ephemeral") == "ephemeral"

    await slack.queue.join()
    posts = slack.fake.of("chat.postMessage")
    updates = slack.fake.of("chat.update")
    main = posts[0]
    assert main.args["channel"] == "C1"
    assert "thread_ts" not in main.args
    assert main.token == BOT_TOKEN
    assert "asked Fusion" in json.dumps(main.args["blocks"])
    final = updates[-1].args
    kinds = [b["type"] for b in final["blocks"]]
    assert "markdown" in kinds
    assert "actions" in kinds
    text = json.dumps(final["blocks"])
    assert "Where they agree" in text
    assert "Where they differ" in text
    assert "Nobody covered" in text
    assert "Only one model saw" in text
    assert "missing: gamma (timed out after 90 s)" in text
    assert "budget left" in text

    replies = posts[1:]
    assert len(replies) == 3
    assert all(r.args["thread_ts"] for r in replies)
    labels = [json.dumps(r.args["blocks"]) for r in replies]
    assert "*alpha*" in labels[0]
    assert "1.2 s" in labels[0]
    assert "$0.0012" in labels[0]
    assert "served by m/beta-fallback" in labels[1]
    assert "did not answer" in labels[2]
    assert "<!channel>" not in posted_text(slack.fake)


async def test_progress_updates_are_coalesced(slack: SlackHarness) -> None:
    await slack.command("what is the answer?")
    await slack.queue.join()
    updates = slack.fake.of("chat.update")
    # 12 progress-changing events, at most a handful of edits (one every 50 ms in the test).
    assert 1 <= len(updates) <= 6
    assert "Fused answer for" in updates[-1].args["text"]


async def test_rerunning_a_delivered_job_posts_nothing_new(slack: SlackHarness) -> None:
    await slack.command("what is the answer?")
    await slack.queue.join()
    before = len(slack.fake.calls)
    job = next(iter(slack.queue.jobs.values()))
    result = slack.script.make_result(job.request)
    await slack.responder.on_result(job, result, None)
    assert len(slack.fake.calls) == before


async def test_help_pools_and_budget(slack: SlackHarness) -> None:
    assert "`/fuse pools`" in (await slack.command("help")).json()["text"]
    pools = (await slack.command("pools")).json()["text"]
    assert slack.config.default_pool in pools
    assert "(default)" in pools
    budget = (await slack.command("budget")).json()["text"]
    assert "Today: $0.00 of $5.00" in budget
    assert slack.queue.jobs == {}


async def test_bad_option_and_unknown_pool_are_refused(slack: SlackHarness) -> None:
    text = (await slack.command("--model x why")).json()["text"]
    assert "Unknown option `--model`" in text
    assert "Nothing was charged" in text
    text = (await slack.command("--pool nope why")).json()["text"]
    assert "Unknown pool 'nope'" in text
    text = (await slack.command("x" * 9000)).json()["text"]
    assert "the limit is 8,000" in text
    assert slack.queue.jobs == {}
    assert slack.fake.of("chat.postMessage") == []


async def test_health_endpoint(slack: SlackHarness) -> None:
    response = await slack.http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True}
