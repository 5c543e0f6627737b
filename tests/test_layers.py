"""The house's shape, enforced: imports point down only, and the core never reads the
environment or imports a chat platform's library.

``fusion_eval`` is an application of the engine: it sits beside the adapters (it may import
``fusion_engine``, the engine never imports it), and only ``bots`` start it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLATFORM_LIBS = {"slack_bolt", "slack_sdk", "discord"}


def _imports(package: str) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                found += [(path, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((path, node.module))
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("fusion_engine", PLATFORM_LIBS | {"bots", "adapters", "fusion_eval"}),
        ("fusion_eval", PLATFORM_LIBS | {"bots", "adapters"}),
        ("adapters", {"bots", "fusion_eval"}),
    ],
)
def test_imports_point_down_only(package: str, forbidden: set[str]) -> None:
    imports = _imports(package)
    assert imports, f"no imports found under {package}"
    bad = [
        f"{path.relative_to(ROOT)}: {name}"
        for path, name in imports
        if name.split(".")[0] in forbidden
    ]
    assert bad == []


@pytest.mark.parametrize("package", ["fusion_engine", "fusion_eval"])
def test_the_core_never_reads_the_environment(package: str) -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / package).rglob("*.py")
        if "os.environ" in path.read_text() or "getenv" in path.read_text()
    ]
    assert offenders == []
