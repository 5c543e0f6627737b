"""Model output is untrusted: no pings from anything it wrote, and nothing over Discord's
limits — and nothing silently cut either."""

from __future__ import annotations

from typing import Any

from fusion_engine.result import Analysis, Contradiction, Stance
from tests.adapters.discord.conftest import Running, make_result, question
from tests.fakes.discord_api import FakeDiscord

PINGS = "@everyone @here <@930000000000000001> <@&910000000000000001> <@!1>"


def _message_bodies(fake: FakeDiscord) -> list[dict[str, Any]]:
    bodies = []
    for call in fake.calls:
        body = call.json
        if isinstance(body, dict) and "data" in body and isinstance(body["data"], dict):
            body = body["data"]  # interaction callbacks wrap the message
        if isinstance(body, dict) and ("content" in body or "embeds" in body):
            bodies.append(body)
    return bodies


async def test_no_message_built_from_model_output_can_ping(
    fake_discord: FakeDiscord, running: Running
) -> None:
    running.service.result = lambda _r: make_result(
        f"Answer {PINGS}",
        panel_texts={"openai/gpt-5.4": f"panel {PINGS}", "qwen/qwen3-max": PINGS},
    )
    event = fake_discord.slash_command("fuse", question("q"))
    await fake_discord.dispatch("INTERACTION_CREATE", event)
    await running.service.wait_jobs()
    await fake_discord.dispatch("MESSAGE_CREATE", fake_discord.mention("q2"))
    await running.service.wait_jobs(2)
    answer = fake_discord.original(event["token"])
    buttons = [b["custom_id"] for row in answer["components"] for b in row["components"]]
    await fake_discord.dispatch(
        "INTERACTION_CREATE", fake_discord.button_click(buttons[1], answer["id"])
    )
    await fake_discord.wait_for_call("POST", r"/interactions/\d+/[^/]+/callback", count=2)

    bodies = _message_bodies(fake_discord)
    with_pings = [b for b in bodies if PINGS in (b.get("content") or "")]
    assert len(with_pings) >= 5, "answer (twice), thread posts, button reply all carried the text"
    for body in bodies:
        assert body.get("allowed_mentions", {}).get("parse") == [], body


async def test_long_answer_is_split_under_the_limits_without_loss(
    fake_discord: FakeDiscord, running: Running
) -> None:
    code = "```python\n" + "\n".join(f"x_{i} = {i}  # padding padding padding" for i in range(90))
    answer = "Intro paragraph.\n\n" + code + "\n```\n\n" + "Closing words. " * 300
    consensus = tuple(f"Point {i}: " + "agreed detail " * 30 for i in range(40))
    analysis = Analysis(
        consensus=consensus,
        contradictions=(
            Contradiction(topic="t", stances=(Stance(model="openai/gpt-5.4", position="p"),)),
        ),
    )
    result = make_result(answer).model_copy(update={"analysis": analysis})
    running.service.result = lambda _r: result
    event = fake_discord.slash_command("fuse", question("q"))
    await fake_discord.dispatch("INTERACTION_CREATE", event)
    await running.service.wait_jobs()

    original = fake_discord.original(event["token"])
    followups = [c.json for c in fake_discord.calls_to("POST", rf"/webhooks/\d+/{event['token']}")]
    messages = [original, *followups]
    contents = [m["content"] for m in messages if m["content"]]
    assert len(contents) > 2
    assert all(len(c) <= 2000 for c in contents)
    assert all(c.count("```") % 2 == 0 for c in contents), "code fences balanced per message"

    def bare(text: str) -> str:  # the split may only add fence lines
        return text.replace("```python", "").replace("```", "").replace("\n", "")

    assert bare("".join(contents)) == bare(answer)

    embeds = [e for m in messages for e in m.get("embeds") or []]
    for m in messages:
        group = m.get("embeds") or []
        assert len(group) <= 10
        assert sum(len(e.get("description", "")) + len(e.get("title", "")) for e in group) <= 6000
    assert all(len(e["description"]) <= 4096 for e in embeds)
    described = "".join(e["description"] for e in embeds)
    for i in range(40):
        assert f"Point {i}:" in described
    assert "buttons" not in described
    assert original["components"], "buttons sit on the first message"
