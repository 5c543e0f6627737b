"""Package faces that load on first use (PEP 562).

A package's ``__init__`` names its public API, but importing one small module (``money``, say)
must not drag in Redis, httpx and Prometheus through the package's other modules. A face built
here maps each public name to the module that defines it and imports that module only when the
name is first read; the value is then cached in the package, so later reads are plain lookups.

Type checkers and IDEs see the same names through imports under ``TYPE_CHECKING``; the face's
test compares those imports with the runtime table, so the two cannot drift.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping

__all__ = ["lazy_face"]


def lazy_face(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose names live in ``exports``.

    ``exports`` maps each public name to the absolute name of the module that defines it.
    """

    def __getattr__(name: str) -> object:
        try:
            module = exports[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
