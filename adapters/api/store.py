"""API keys: a secret shown once, only its hash stored, each key naming the tenant it bills.

Why SHA-256 and not a slow password hash: the secret is 256 random bits, not a password, so
nothing can be guessed from its hash, and every request looks it up, so the lookup must cost
microseconds. A request's key is found by the hash of its secret (one ``GET`` and one ``HGET``);
revoking deletes both records in one transaction, so a revoked key stops working at once.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict

from adapters.api.keys import KEYS_BY_ID, digest_key
from fusion_engine.errors import InputError
from fusion_engine.redis_guard import redis_unavailable

__all__ = ["SECRET_PREFIX", "ApiKey", "ApiKeyStore", "NewKey"]

SECRET_PREFIX = "fsk-"  # noqa: S105 - a prefix, not a secret
"""Every secret starts with this, so a leaked one is easy to recognise and scan for."""


class ApiKey(BaseModel):
    """A key as stored and listed: everything but the secret."""

    model_config = ConfigDict(frozen=True)

    id: str
    tenant: str
    name: str = ""
    created_at: datetime
    digest: str


class NewKey(BaseModel):
    """A key just created, with the secret that will never be shown again."""

    model_config = ConfigDict(frozen=True)

    key: ApiKey
    secret: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKeyStore:
    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis

    async def create(self, tenant: str, *, name: str = "") -> NewKey:
        tenant = tenant.strip()
        if not tenant:
            raise InputError("Give the tenant the key bills, e.g. `fusion keys create acme`.")
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(
            id=f"key_{secrets.token_hex(6)}",
            tenant=tenant,
            name=name.strip(),
            created_at=datetime.now(UTC),
            digest=_digest(secret),
        )
        with redis_unavailable():
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(KEYS_BY_ID, key.id, key.model_dump_json())
                pipe.set(digest_key(key.digest), key.id)
                await pipe.execute()
        return NewKey(key=key, secret=secret)

    async def all(self) -> list[ApiKey]:
        """Every live key, oldest first."""
        with redis_unavailable():
            records = await self._redis.hvals(KEYS_BY_ID)
        keys = [ApiKey.model_validate_json(raw) for raw in records]
        return sorted(keys, key=lambda k: k.created_at)

    async def revoke(self, key_id: str) -> ApiKey:
        """Delete the key ``key_id``; ``InputError`` when there is no such key."""
        with redis_unavailable():
            raw = await self._redis.hget(KEYS_BY_ID, key_id.strip())
            if raw is None:
                raise InputError(f"No API key {key_id!r}; `fusion keys list` shows the ids.")
            key = ApiKey.model_validate_json(raw)
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hdel(KEYS_BY_ID, key.id)
                pipe.delete(digest_key(key.digest))
                await pipe.execute()
        return key

    async def find(self, secret: str) -> ApiKey | None:
        """The live key whose secret is ``secret``, or ``None``."""
        if not secret.startswith(SECRET_PREFIX):
            return None
        with redis_unavailable():
            key_id = await self._redis.get(digest_key(_digest(secret)))
            raw = None if key_id is None else await self._redis.hget(KEYS_BY_ID, key_id)
        return None if raw is None else ApiKey.model_validate_json(raw)
