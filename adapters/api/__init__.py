"""The OpenAI-compatible API adapter: ``fusion serve``'s HTTP front door.

Public API:

- ``web_app(deps) -> aiohttp.web.Application`` (``/v1/chat/completions``, ``/v1/models``,
  ``/healthz``), given ``ApiDeps(config, engine, budgets, limiter, keys)``
- ``ApiKeyStore(redis)``: create, list, revoke and find API keys (only hashes stored; Redis keys
  in ``adapters.api.keys``); ``ApiKey`` and ``NewKey`` are its records
"""

from adapters.api.server import COMPLETIONS_PATH, HEALTH_PATH, MODELS_PATH, ApiDeps, web_app
from adapters.api.store import SECRET_PREFIX, ApiKey, ApiKeyStore, NewKey

__all__ = [
    "COMPLETIONS_PATH",
    "HEALTH_PATH",
    "MODELS_PATH",
    "SECRET_PREFIX",
    "ApiDeps",
    "ApiKey",
    "ApiKeyStore",
    "NewKey",
    "web_app",
]
