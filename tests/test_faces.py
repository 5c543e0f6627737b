"""Package faces: every public name loads on first use, and what type checkers see is what
runs. A face imports nothing heavy by itself (see ``test_lean_imports``)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from types import ModuleType

import pytest

FACES = ("fusion_engine", "fusion_engine.llm", "fusion_eval")


def _checked_imports(face: ModuleType) -> dict[str, str]:
    """``name -> module`` as imported under ``if TYPE_CHECKING:`` in the face's ``__init__``."""
    assert face.__file__ is not None
    tree = ast.parse(Path(face.__file__).read_text())
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom)
                assert imp.module is not None
                found |= {alias.name: imp.module for alias in imp.names}
    return found


@pytest.mark.parametrize("name", FACES)
def test_face_table_matches_its_typed_imports_and_all(name: str) -> None:
    face = importlib.import_module(name)
    table: dict[str, str] = face._EXPORTS
    assert _checked_imports(face) == table
    assert sorted(face.__all__) == sorted(table)


@pytest.mark.parametrize("name", FACES)
def test_every_public_name_resolves_to_its_module_object(name: str) -> None:
    face = importlib.import_module(name)
    for public, module in face._EXPORTS.items():
        assert getattr(face, public) is getattr(importlib.import_module(module), public)
    assert set(face.__all__) <= set(dir(face))


def test_an_unknown_name_is_an_attribute_error() -> None:
    import fusion_engine

    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = fusion_engine.Nope  # type: ignore[attr-defined]
