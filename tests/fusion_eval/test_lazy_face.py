"""Naming the eval does not load its charts: numpy and matplotlib wait for the report."""

from __future__ import annotations

from tests.loaded_modules import loaded_after


def test_importing_the_eval_loads_no_plotting() -> None:
    assert loaded_after("import fusion_eval", ("numpy", "matplotlib")) == []
    assert loaded_after("from fusion_eval import run_eval", ("matplotlib",)) == []
