"""Block Kit rendering: limits hold and untrusted text is inert, whatever the models wrote."""

from __future__ import annotations

import json

from adapters.common import ProgressView
from adapters.slack import escape
from adapters.slack.render import (
    analysis_message,
    final_messages,
    member_messages,
    progress_message,
)
from fusion_engine.result import Analysis, Contradiction, Stance
from tests.bots.samples import sample_events, sample_result

ATTACK = "<!channel> <@U1|x> <!subteam^S1> <http://evil|docs> &amp;"


def test_escape_neutralises_slack_control_characters() -> None:
    assert escape(ATTACK) == (
        "&lt;!channel&gt; &lt;@U1|x&gt; &lt;!subteam^S1&gt; &lt;http://evil|docs&gt; &amp;amp;"
    )


def test_final_message_shape() -> None:
    main, rest = final_messages("U7", sample_result(degraded=True), None, "job-1")
    assert rest == []
    types = [b["type"] for b in main.blocks]
    assert types[0] == "context"
    assert "markdown" in types
    assert types[-1] == "actions"
    assert [e["value"] for e in main.blocks[-1]["elements"]] == ["job-1", "job-1"]
    footer = json.dumps(main.blocks[-2])
    assert ":warning: *Degraded*" in footer
    assert "<@U7> asked Fusion" in json.dumps(main.blocks[0])


def test_question_and_stances_are_escaped() -> None:
    analysis = Analysis(
        contradictions=(
            Contradiction(topic=ATTACK, stances=(Stance(model="m/a", position=ATTACK),) * 2),
        )
    )
    result = sample_result().model_copy(update={"question": ATTACK, "analysis": analysis})
    main, _ = final_messages("U7", result, None, "k")
    sent = json.dumps(main.blocks) + main.text
    assert "<!channel>" not in sent
    assert "<http://evil" not in sent
    progress = progress_message("U7", ATTACK, "p", ProgressView())
    assert "<!channel>" not in json.dumps(progress.blocks) + progress.text


def test_many_long_analysis_items_stay_under_the_limits() -> None:
    analysis = Analysis(consensus=tuple(f"{i} " + "x" * 2500 for i in range(80)))
    result = sample_result().model_copy(update={"analysis": analysis})
    main, _ = final_messages("U7", result, None, "k")
    assert len(main.blocks) <= 50
    assert "and 76 more" in json.dumps(main.blocks)
    full = analysis_message(analysis, result)
    assert len(full.blocks) == 50
    assert "did not fit" in json.dumps(full.blocks[-1])
    for block in main.blocks + full.blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000


def test_member_reply_is_labelled_and_split() -> None:
    result = sample_result()
    long = result.answers[0].model_copy(update={"text": "y " * 20_000})
    messages = member_messages(long)
    assert len(messages) == 4
    assert "*alpha* · 1.2 s · $0.0012" in messages[0].blocks[0]["elements"][0]["text"]
    assert all(len(m.blocks[-1]["text"]) <= 12_000 for m in messages)


def test_progress_lists_each_model() -> None:
    view = ProgressView()
    for event in sample_events(sample_result(degraded=True))[:7]:
        view.apply(event)
    msg = progress_message("U7", "q", "research", view)
    text = msg.blocks[-1]["text"]["text"]
    assert "*Asking 3 models… 2/3 answered*" in text
    assert "• gamma: failed: timed out after 90 s" in text


def test_a_cut_answer_says_so() -> None:
    result = sample_result()
    cut = result.answers[0].model_copy(update={"cut_at_tokens": 1500})
    (message,) = member_messages(cut)
    assert message.blocks[0]["elements"][0]["text"] == (
        "*alpha* · 1.2 s · $0.001234 · cut at 1,500 tokens"
    )
    writer = result.writer.model_copy(update={"cut_at_tokens": 3000})
    main, _ = final_messages("U7", result.model_copy(update={"writer": writer}), None, "k")
    assert "fused answer cut at 3,000 tokens" in json.dumps(main.blocks[-2])
