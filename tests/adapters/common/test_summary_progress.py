from __future__ import annotations

from datetime import UTC, datetime

from adapters.common import ProgressView, footer, summary_sections
from fusion_engine.budget.base import BudgetStatus
from fusion_engine.events import WriterDelta
from tests.bots.samples import sample_events, sample_result


def _budget() -> BudgetStatus:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return BudgetStatus(
        tenant="E|T",
        daily_limit_micros=5_000_000,
        monthly_limit_micros=50_000_000,
        daily_spent_micros=1_000_000,
        monthly_spent_micros=1_000_000,
        held_micros=0,
        daily_resets_at=now,
        monthly_resets_at=now,
    )


def test_sections_follow_the_analysis() -> None:
    sections = summary_sections(sample_result())
    assert [s.title for s in sections] == [
        "Where they agree",
        "Where they differ",
        "Only one model saw",
        "Nobody covered",
    ]
    differ = sections[1].items[0]
    assert differ.text == "units"
    assert [(s.model, s.position) for s in differ.stances] == [
        ("m/alpha", "unitless"),
        ("m/beta", "meters"),
    ]
    assert sections[2].items[0].model == "m/beta"


def test_missing_analysis_is_said_not_hidden() -> None:
    sections = summary_sections(sample_result(analysis=False))
    assert len(sections) == 1
    assert sections[0].key == "note"
    assert "not valid JSON" in sections[0].items[0].text


def test_footer_names_missing_models_cost_and_budget() -> None:
    foot = footer(sample_result(degraded=True), _budget())
    assert [m.model for m in foot.answered] == ["m/alpha", "m/beta"]
    assert foot.missing[0].reason == "timed out after 90 s"
    assert foot.budget_left_micros == 4_000_000
    assert foot.text() == (
        "2 models: alpha, beta · missing: gamma (timed out after 90 s) · 3.2 s · $0.0050"
        " · $4.00 budget left"
    )
    assert "budget left" not in footer(sample_result()).text()


def test_progress_view_tracks_each_model() -> None:
    result = sample_result(degraded=True)
    view = ProgressView()
    events = sample_events(result)
    changes = [view.apply(e) for e in events]
    assert view.progress.stage == "done"
    assert view.lines() == [
        "Done.",
        "alpha: answered in 1.2 s",
        "beta: answered in 0.7 s",
        "gamma: failed: timed out after 90 s",
    ]
    assert view.apply(WriterDelta(text="more")) is False
    assert changes[0] is True
    written = [e.text for e in events if isinstance(e, WriterDelta)]
    assert written  # the sample streams the answer
    assert view.progress.written_chars == len("".join(written)) + len("more")


def test_progress_view_intermediate_lines() -> None:
    events = sample_events(sample_result())
    view = ProgressView()
    view.apply(events[0])
    assert view.lines() == ["Asking 2 models… 0/2 answered", "alpha: waiting", "beta: waiting"]


def test_footer_labels_cut_answers() -> None:
    result = sample_result()
    cut = result.answers[0].model_copy(update={"cut_at_tokens": 1500})
    writer = result.writer.model_copy(update={"cut_at_tokens": 3000})
    result = result.model_copy(update={"panel": (cut, *result.panel[1:]), "writer": writer})
    assert footer(result).text() == (
        "2 models: alpha (cut at 1,500 tokens), beta · fused answer cut at 3,000 tokens"
        " · 3.2 s · $0.0050"
    )
