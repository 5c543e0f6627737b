"""Per-model buttons: ephemeral answers, read from Redis, working across a bot restart."""

from __future__ import annotations

import pytest

from adapters.discord import DiscordStore, buttons
from adapters.discord.render import member_payloads
from fusion_engine.config import FusionConfig
from tests.adapters.discord.conftest import (
    Running,
    ScriptedService,
    make_result,
    question,
    start_bot,
    stop_bot,
)
from tests.fakes.discord_api import FakeDiscord

CALLBACK = r"/interactions/\d+/[^/]+/callback"


async def _answered(fake: FakeDiscord, running: Running) -> tuple[str, list[str]]:
    event = fake.slash_command("fuse", question("why is the sky blue?"))
    await fake.dispatch("INTERACTION_CREATE", event)
    await running.service.wait_jobs()
    answer = fake.original(event["token"])
    ids = [b["custom_id"] for row in answer["components"] for b in row["components"]]
    return answer["id"], ids


async def _click(fake: FakeDiscord, custom_id: str, message_id: str) -> dict[str, object]:
    click = fake.button_click(custom_id, message_id)
    await fake.dispatch("INTERACTION_CREATE", click)
    (call,) = await fake.wait_for_call("POST", rf"/interactions/{click['id']}/[^/]+/callback")
    return dict(call.json)


async def test_button_shows_one_models_answer_only_to_the_clicker(
    fake_discord: FakeDiscord, running: Running
) -> None:
    message_id, ids = await _answered(fake_discord, running)
    body = await _click(fake_discord, ids[1], message_id)
    data = body["data"]
    assert isinstance(data, dict)
    assert body["type"] == 4
    assert data["flags"] & 64
    assert data["content"].startswith("**qwen/qwen3-max** · 1.5 s")
    assert data["content"].endswith("Blue.")
    assert data["allowed_mentions"]["parse"] == []


async def test_buttons_keep_working_after_a_restart(
    fake_discord: FakeDiscord, store: DiscordStore, config: FusionConfig
) -> None:
    first = await start_bot(fake_discord, ScriptedService(), store, config)
    message_id, ids = await _answered(fake_discord, first)
    await stop_bot(first)

    second = await start_bot(fake_discord, ScriptedService(), store, config)
    try:
        body = await _click(fake_discord, ids[0], message_id)
    finally:
        await stop_bot(second)
    data = body["data"]
    assert isinstance(data, dict)
    assert data["content"].endswith("Rayleigh scattering.")
    assert len(fake_discord.identifies) == 2


async def test_long_member_answer_arrives_in_several_ephemeral_parts(
    fake_discord: FakeDiscord, running: Running
) -> None:
    long_text = "\n\n".join(f"Paragraph {i}: " + "word " * 80 for i in range(20))
    result = make_result(panel_texts={"openai/gpt-5.4": long_text, "qwen/qwen3-max": "short"})
    running.service.result = lambda _r: result
    expected = len(member_payloads(result, 0))
    assert expected > 1
    message_id, ids = await _answered(fake_discord, running)
    body = await _click(fake_discord, ids[0], message_id)
    data = body["data"]
    assert isinstance(data, dict)
    followups = await fake_discord.wait_for_call(
        "POST",
        r"/webhooks/\d+/[^/]+",
        count=expected - 1,
        where=lambda c: bool((c.json or {}).get("flags")),
    )
    parts = [data["content"], *(c.json["content"] for c in followups)]
    assert all(len(p) <= 2000 for p in parts)
    assert all(c.json["flags"] & 64 for c in followups)
    assert "".join(parts) == "**openai/gpt-5.4** · 1.5 s · $0.0012\n" + long_text


async def test_expired_answer_says_so(fake_discord: FakeDiscord, running: Running) -> None:
    message_id, ids = await _answered(fake_discord, running)
    await running.bot.store._redis.flushdb()
    body = await _click(fake_discord, ids[0], message_id)
    data = body["data"]
    assert isinstance(data, dict)
    assert "no longer stored" in data["content"]
    assert data["flags"] & 64


class _RecordingInteraction:
    """Just the two send methods ``show_member_answer`` uses, recording what they were given."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.response = self
        self.followup = self

    async def send_message(self, content: str, **_kw: object) -> None:
        self.sent.append(content)

    async def send(self, content: str, **_kw: object) -> None:
        self.sent.append(content)


@pytest.mark.parametrize("mentions", [{"parse": ["everyone"]}, None])
async def test_a_member_answer_that_could_ping_is_never_sent(
    store: DiscordStore, monkeypatch: pytest.MonkeyPatch, mentions: object
) -> None:
    """The check holds under ``python -O`` too (it is not an ``assert``)."""
    await store.save_result("k1", make_result())
    payloads = [{"content": "@everyone hi", "allowed_mentions": mentions}]
    monkeypatch.setattr(buttons, "member_payloads", lambda *_a, **_k: payloads)
    interaction = _RecordingInteraction()
    with pytest.raises(ValueError, match="mentions="):
        await buttons.show_member_answer(interaction, store, "k1", 0)  # type: ignore[arg-type]
    assert interaction.sent == []


async def test_a_member_answer_is_sent_when_it_cannot_ping(store: DiscordStore) -> None:
    await store.save_result("k1", make_result())
    interaction = _RecordingInteraction()
    await buttons.show_member_answer(interaction, store, "k1", 1)  # type: ignore[arg-type]
    assert [s.endswith("Blue.") for s in interaction.sent] == [True]
