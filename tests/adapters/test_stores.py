"""One pattern for the adapters' Redis: a keys module and a store per adapter.

Each adapter's store is the only code that calls Redis, and every one of its methods turns an
unreachable server into ``UnavailableError`` (the error every listener answers and the worker
retries on), never a raw connection error. Both rules are checked over every method and every
module, so a new method or a stray call elsewhere fails here.
"""

from __future__ import annotations

import ast
import inspect
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from adapters.discord.store import DiscordStore, Posted
from adapters.slack.store import SlackStore
from fusion_engine.errors import UnavailableError
from fusion_engine.redis_guard import connect_redis
from fusion_engine.request import ConversationTurn
from tests.adapters.discord.conftest import make_result

ADAPTERS = Path(__file__).resolve().parents[2] / "adapters"
STORES = [DiscordStore, SlackStore]
_ARGS: dict[str, Any] = {
    "str": "k1",
    "FusionResult": make_result(),
    "Posted": Posted(),
    "tuple[ConversationTurn, ...]": (ConversationTurn(role="user", content="q"),),
    "dict[str, str]": {"final": "1"},
}


def _public_methods(store: type) -> list[str]:
    return [
        name
        for name, fn in inspect.getmembers(store, inspect.iscoroutinefunction)
        if not name.startswith("_")
    ]


@pytest.fixture
async def dead_redis() -> AsyncIterator[aioredis.Redis]:
    """A client whose server refuses connections (a port that was free a moment ago)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = connect_redis(f"redis://127.0.0.1:{port}/0", timeout_s=0.5)
    yield client
    await client.aclose()


@pytest.mark.parametrize(
    ("store", "method"),
    [(store, name) for store in STORES for name in _public_methods(store)],
    ids=lambda v: v if isinstance(v, str) else v.__name__,
)
async def test_every_store_call_says_unavailable_when_redis_is_down(
    dead_redis: aioredis.Redis, store: type, method: str
) -> None:
    bound = getattr(store(dead_redis), method)
    params = list(inspect.signature(getattr(store, method)).parameters.values())[1:]
    args = [_ARGS[str(p.annotation)] for p in params]
    with pytest.raises(UnavailableError):
        await bound(*args)


def _redis_calls(tree: ast.AST) -> list[int]:
    """Lines calling a method on something named ``redis`` / ``_redis`` (``self.redis.set``)."""
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Attribute | ast.Name)
        and (getattr(node.func.value, "attr", None) or getattr(node.func.value, "id", None))
        in {"redis", "_redis"}
    ]


def test_only_the_stores_call_redis() -> None:
    strays = {
        str(path.relative_to(ADAPTERS)): lines
        for path in ADAPTERS.rglob("*.py")
        if path.name != "store.py" and (lines := _redis_calls(ast.parse(path.read_text())))
    }
    assert strays == {}
    assert _redis_calls(ast.parse((ADAPTERS / "slack" / "store.py").read_text()))
