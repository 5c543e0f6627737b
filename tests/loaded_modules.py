"""Which packages a piece of code loads, read from ``sys.modules`` in a fresh interpreter.

A fresh process does not depend on what the test process already imported, and reading
``sys.modules`` does not depend on how fast the machine is. The list is taken at exit, so code
that ends in ``SystemExit`` (a CLI) is measured after all it did.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_PROBE = """
import atexit, json, sys
atexit.register(lambda: sys.__stderr__.write(
    "\\nLOADED " + json.dumps(sorted(n for n in {candidates!r} if n in sys.modules)) + "\\n"
))
"""


def loaded_after(
    code: str,
    candidates: Sequence[str],
    *,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    cwd: Path = ROOT,
) -> list[str]:
    """Which of ``candidates`` (module names) are loaded when ``python -c code *args`` exits."""
    probe = _PROBE.format(candidates=list(candidates)) + code
    proc = subprocess.run(  # noqa: S603 - our own interpreter, a fixed probe
        [sys.executable, "-c", probe, *args],
        cwd=cwd,
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        check=False,
    )
    marker = [line for line in proc.stderr.splitlines() if line.startswith("LOADED ")]
    assert marker, proc.stdout + proc.stderr
    loaded: list[str] = json.loads(marker[-1].removeprefix("LOADED "))
    return loaded
