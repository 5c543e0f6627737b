"""Payload building, without Discord: labels, ids, limits, degraded results."""

from __future__ import annotations

import pytest

from adapters.discord.render import (
    BUTTON_ID,
    EMBEDS_TOTAL_LIMIT,
    answer_payloads,
    button_id,
    member_payloads,
)
from tests.adapters.discord.conftest import budget_status, make_result


def test_degraded_result_names_the_missing_models_and_why() -> None:
    result = make_result(failed={"google/gemini-3.1-pro-preview": "timed out after 90 s"})
    (payload,) = answer_payloads(result, budget_status("g"), "discord:1")
    footer = payload["embeds"][-1]["description"]
    assert "missing: gemini-3.1-pro-preview (timed out after 90 s)" in footer
    labels = [b["label"] for row in payload["components"] for b in row["components"]]
    assert labels[-1] == "✗ google/gemini-3.1-pro-preview"
    (failed,) = member_payloads(result, 2)
    assert failed["content"].endswith("Failed: timed out after 90 s")


def test_eight_models_fit_in_two_button_rows() -> None:
    result = make_result(panel_texts={f"vendor/model-{i}": "x" for i in range(8)})
    (payload,) = answer_payloads(result, None, "discord:1")
    assert [len(row["components"]) for row in payload["components"]] == [5, 3]
    ids = [b["custom_id"] for row in payload["components"] for b in row["components"]]
    assert len(set(ids)) == 8
    assert all(BUTTON_ID.fullmatch(i) for i in ids)


def test_custom_ids_stay_within_discords_100_characters() -> None:
    assert len(button_id("discord:" + "9" * 19, 7)) <= 100
    with pytest.raises(ValueError, match="too long"):
        button_id("k" * 95, 1)


def test_a_huge_analysis_spills_into_extra_messages_not_cut() -> None:
    points = tuple(f"point {i} " + "x" * 900 for i in range(30))
    result = make_result().model_copy(
        update={"analysis": make_result().analysis.model_copy(update={"consensus": points})}  # type: ignore[union-attr]
    )
    payloads = answer_payloads(result, None, "discord:1")
    assert len(payloads) > 1
    for p in payloads:
        assert sum(len(e["description"]) + len(e.get("title", "")) for e in p["embeds"]) <= (
            EMBEDS_TOTAL_LIMIT
        )
        assert p["allowed_mentions"] == {"parse": []}
    text = "".join(e["description"] for p in payloads for e in p["embeds"])
    assert all(f"point {i} " in text for i in range(30))


def test_a_cut_answer_says_so() -> None:
    result = make_result()
    cut = result.answers[0].model_copy(update={"cut_at_tokens": 1500})
    writer = result.writer.model_copy(update={"cut_at_tokens": 3000})
    result = result.model_copy(update={"panel": (cut, *result.panel[1:]), "writer": writer})
    (member,) = member_payloads(result, 0)
    assert member["content"].startswith(
        "**openai/gpt-5.4** · 1.5 s · $0.0012 · cut at 1,500 tokens\n"
    )
    (payload,) = answer_payloads(result, None, "discord:1")
    footer = payload["embeds"][-1]["description"]
    assert "2 models: gpt-5.4 (cut at 1,500 tokens), qwen3-max" in footer
    assert "fused answer cut at 3,000 tokens" in footer
