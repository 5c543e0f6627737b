"""The core logs through the standard library: it needs no set-up to log somewhere sensible."""

from __future__ import annotations

import logging

import pytest

from fusion_engine.logs import get_logger


def test_a_core_line_is_a_stdlib_record_with_its_fields(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.INFO)
    get_logger("fusion_engine.jobs.worker").bind(job="k1").warning(
        "fusion failed", reason="timeout"
    )
    (record,) = caplog.records
    assert (record.name, record.getMessage()) == ("fusion_engine.jobs.worker", "fusion failed")
    assert (record.__dict__["job"], record.__dict__["reason"]) == ("k1", "timeout")
    assert capsys.readouterr().out == ""  # never mixed into an answer printed on stdout
