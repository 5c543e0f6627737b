"""The Redis keys the API adapter writes (beside the core's ``fusion_engine.keys``).

Kept in one place for the same reason as the core's: a key is a schema shared by processes
(``fusion serve`` reads what ``fusion keys`` writes). Everything lives under ``fusion:api:``.
"""

from __future__ import annotations

from fusion_engine.keys import PREFIX

__all__ = ["KEYS_BY_ID", "RATE_LIMIT_SUBJECT", "digest_key"]

_API = f"{PREFIX}:api"

KEYS_BY_ID = f"{_API}:keys"
"""Hash: key id -> the key's record as JSON (id, tenant, name, created_at, digest); no secret."""

RATE_LIMIT_SUBJECT = "api-key:{id}"
"""The subject the per-key rate limit counts under (``fusion_engine.ratelimit``'s prefix)."""


def digest_key(digest: str) -> str:
    """String: the id of the live key whose secret hashes (SHA-256, hex) to ``digest``."""
    return f"{_API}:digest:{digest}"
