"""Importing a piece of the core loads only what that piece uses (``sys.modules`` in a fresh
interpreter; see ``tests.loaded_modules``). The CLI's own checks are in
``tests/bots/test_cli_imports.py``."""

from __future__ import annotations

import pytest

from tests.loaded_modules import loaded_after

CORE_AVOIDS = (
    "redis",
    "httpx",
    "prometheus_client",
    "limits",
    "numpy",
    "matplotlib",
    "discord",
    "slack_bolt",
    "slack_sdk",
    "aiohttp",
    "saq",
    "structlog",
    "pydantic",
)
"""Nothing in ``fusion_engine``'s face or its money and error modules needs these."""


@pytest.mark.parametrize(
    "code",
    [
        "import fusion_engine",
        "import fusion_engine.money",
        "import fusion_engine.errors",
        "from fusion_engine import format_usd, FusionError",
        "import fusion_engine.llm",
    ],
)
def test_the_core_face_imports_nothing_heavy(code: str) -> None:
    assert loaded_after(code, CORE_AVOIDS) == []
