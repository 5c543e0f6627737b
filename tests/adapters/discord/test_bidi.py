"""Bidirectional controls in model output never reach Discord (``adapters.common.untrusted``)."""

from __future__ import annotations

from fusion_engine.errors import QuorumError
from fusion_engine.events import MemberFailed
from fusion_engine.result import Analysis, Contradiction, FusionResult, PanelFailure, Stance
from tests.adapters.common.bidi import BIDI_ATTACK, BIDI_SHOWN, bidi_left
from tests.adapters.discord.conftest import Running, make_result, question
from tests.fakes.discord_api import FakeDiscord


def _hostile() -> FusionResult:
    base = make_result(
        answer=f"{BIDI_ATTACK}\n\n" * 200,
        panel_texts={"m/alpha": BIDI_ATTACK, "m/beta": "\u202e" + "long " * 1000},
        failed={"m/gamma": BIDI_ATTACK},
    )
    analysis = Analysis(
        consensus=(BIDI_ATTACK,),
        contradictions=(
            Contradiction(
                topic=BIDI_ATTACK, stances=(Stance(model="m/alpha", position="\u2067x"),)
            ),
        ),
        blind_spots=("\u202bnobody\u202c",),
    )
    return base.model_copy(update={"analysis": analysis})


async def test_no_bidi_control_reaches_discord(fake_discord: FakeDiscord, running: Running) -> None:
    result = _hostile()
    running.service.result = lambda _r: result
    event = fake_discord.slash_command("fuse", question(f"why? {BIDI_ATTACK}"))
    await fake_discord.dispatch("INTERACTION_CREATE", event)
    await running.service.wait_jobs()
    answer = fake_discord.original(str(event["token"]))
    for row in answer["components"]:
        for button in row["components"]:
            click = fake_discord.button_click(button["custom_id"], answer["id"])
            await fake_discord.dispatch("INTERACTION_CREATE", click)
            await fake_discord.wait_for_call("POST", rf"/interactions/{click['id']}/[^/]+/callback")
    sent = [call.json for call in fake_discord.calls]
    assert bidi_left(sent) == []
    assert BIDI_SHOWN in str(sent)


async def test_no_bidi_control_in_a_failure_or_progress(
    fake_discord: FakeDiscord, running: Running
) -> None:
    failure = PanelFailure(model="m/a", reason=BIDI_ATTACK, error_kind="http_500", latency_s=1.0)
    running.service.error = QuorumError(0, 2, {"m/a": BIDI_ATTACK})
    event = fake_discord.slash_command("fuse", question("why?"))
    await fake_discord.dispatch("INTERACTION_CREATE", event)
    (job,) = await running.service.wait_jobs()
    assert running.responder is not None
    await running.responder.on_event(job, MemberFailed(failure=failure))
    sent = [call.json for call in fake_discord.calls]
    assert bidi_left(sent) == []
    assert BIDI_SHOWN in str(sent)
