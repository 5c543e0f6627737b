"""Bidirectional controls in model output never reach Slack (``adapters.common.untrusted``)."""

from __future__ import annotations

from fusion_engine.request import FusionRequest
from fusion_engine.result import Analysis, FusionResult, PanelAnswer, PanelFailure
from tests.adapters.common.bidi import BIDI_ATTACK, BIDI_SHOWN, bidi_left
from tests.adapters.slack.harness import SlackHarness
from tests.bots.samples import sample_result


def _hostile(request: FusionRequest) -> FusionResult:
    """Every piece of model text a message can show carries the attack."""
    base = sample_result(degraded=True)
    alpha, _, gamma = base.panel
    assert isinstance(alpha, PanelAnswer)
    assert isinstance(gamma, PanelFailure)
    assert base.analysis is not None
    panel = (
        alpha.model_copy(update={"text": BIDI_ATTACK, "served_by": "m/x\u202e"}),
        alpha.model_copy(update={"model": "m/beta", "text": "\u202e" + "long " * 3000}),
        gamma.model_copy(update={"reason": BIDI_ATTACK}),
    )
    analysis = Analysis(
        consensus=(BIDI_ATTACK,),
        contradictions=(base.analysis.contradictions[0].model_copy(update={"topic": BIDI_ATTACK}),),
        unique_insights=(
            base.analysis.unique_insights[0].model_copy(update={"insight": "\u2066x"}),
        ),
        blind_spots=("\u202bnobody\u202c",),
        scores=base.analysis.scores,
    )
    return base.model_copy(
        update={
            "answer": f"# {BIDI_ATTACK}\n\n[{BIDI_ATTACK}](https://x\u202e.example)\n" * 300,
            "panel": panel,
            "analysis": analysis,
        }
    )


async def test_no_bidi_control_reaches_slack(slack: SlackHarness) -> None:
    slack.script.make_result = _hostile
    await slack.command(f"why? {BIDI_ATTACK}")
    await slack.queue.join()
    key = next(iter(slack.queue.jobs))
    await slack.action("fusion_show_analysis", key)
    await slack.fake.wait_for(lambda f: len(f.responses) == 1)
    sent = [c.args for c in slack.fake.calls] + [body for _, body in slack.fake.responses]
    assert bidi_left(sent) == []
    assert BIDI_SHOWN in str(sent)
