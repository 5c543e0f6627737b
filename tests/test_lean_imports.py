"""Importing a piece of Fusion loads only what that piece uses.

Each check runs in a fresh interpreter and reads ``sys.modules``, so it does not depend on
what this test process already imported, nor on how fast the machine is.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

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


def loaded_after(code: str, candidates: tuple[str, ...]) -> list[str]:
    """Which of ``candidates`` (top-level packages) are in ``sys.modules`` after ``code``."""
    probe = (
        f"{code}\nimport json, sys\n"
        f"print(json.dumps(sorted(n for n in {list(candidates)!r} if n in sys.modules)))"
    )
    proc = subprocess.run(  # noqa: S603 - our own interpreter, a fixed probe
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded: list[str] = json.loads(proc.stdout.splitlines()[-1])
    return loaded


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
