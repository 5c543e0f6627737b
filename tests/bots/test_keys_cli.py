"""``fusion keys`` against a real Redis: the secret is shown once and never stored."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import pytest
import redis
from typer.testing import CliRunner

from adapters.api import SECRET_PREFIX, ApiKeyStore
from bots.cli import app
from bots.embedded_redis import EmbeddedRedis
from fusion_engine.redis_guard import connect_redis


@pytest.fixture
def env(redis_server: EmbeddedRedis, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    redis.Redis.from_url(redis_server.url).flushdb()
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    monkeypatch.setenv("FUSION_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return redis_server.url


def fusion(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def _everything_in(url: str) -> str:
    r = redis.Redis.from_url(url)
    dump = []
    for key in r.scan_iter():
        kind = r.type(key)
        value = r.hgetall(key) if kind == b"hash" else r.get(key) if kind == b"string" else b""
        dump.append(f"{key!r}={value!r}")
    return "\n".join(dump)


def test_create_prints_the_secret_last_and_stores_only_its_hash(env: str) -> None:
    code, out = fusion("keys", "create", "acme", "--name", "ci")
    assert code == 0, out
    secret = out.strip().splitlines()[-1]
    assert secret.startswith(SECRET_PREFIX)
    assert " " not in secret
    stored = _everything_in(env)
    assert secret not in stored
    assert hashlib.sha256(secret.encode()).hexdigest() in stored

    async def find() -> str | None:
        client = connect_redis(env)
        try:
            key = await ApiKeyStore(client).find(secret)
        finally:
            await client.aclose()
        return None if key is None else f"{key.tenant}/{key.name}"

    assert asyncio.run(find()) == "acme/ci"


def test_list_shows_keys_without_secrets_and_revoke_removes_them(env: str) -> None:
    _, out = fusion("keys", "create", "acme")
    secret = out.strip().splitlines()[-1]
    code, out = fusion("keys", "list", "--json")
    assert code == 0, out
    [row] = json.loads(out)
    assert row["tenant"] == "acme"
    assert secret not in out
    code, out = fusion("keys", "list")
    assert row["id"] in out
    assert secret not in out

    code, out = fusion("keys", "revoke", row["id"])
    assert code == 0, out
    assert json.loads(fusion("keys", "list", "--json")[1]) == []
    assert _everything_in(env) == ""


def test_revoking_an_unknown_key_says_how_to_find_ids(env: str) -> None:
    code, out = fusion("keys", "revoke", "key_nope")
    assert code == 2
    assert "fusion keys list" in out
