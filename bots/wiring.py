"""Process wiring: the resources one Fusion process owns, opened and closed in one place.

``Runtime`` is the single owner of the shared ``httpx.AsyncClient`` (one connection pool for
every model call and the price lookups), the model client stack, the price source, the pool
config, and the engine built from them. Open it with ``async with Runtime.open(settings)``;
everything is closed, in reverse order, when the block ends, even on error.

To add a resource (a Redis connection, a budget store), give ``Runtime`` a field with a default
of ``None`` and open it in ``open`` on the same ``AsyncExitStack`` so it closes with the rest.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import httpx

from bots.endpoint import model_endpoint
from bots.settings import Settings, load_pool_file
from fusion_engine.config import FusionConfig
from fusion_engine.http import GC_THRESHOLDS, new_http_client, raise_open_files_limit, tune_gc
from fusion_engine.llm.base import ModelClient, PriceSource
from fusion_engine.pipeline.engine import FusionEngine

__all__ = ["GC_THRESHOLDS", "Runtime", "tune_gc_for_serving"]


def tune_gc_for_serving() -> None:
    """Tune the garbage collector now (``fusion_engine.http.tune_gc``): each serving command
    (``slack``, ``discord``, ``worker``) calls this once, right after its imports, so start-up
    objects are frozen before anything else is allocated. Any other process that runs fusions
    (``fusion ask``, a library user) gets the same tuning when it opens its shared HTTP client."""
    tune_gc()


@dataclass(frozen=True, slots=True)
class Runtime:
    """Everything a process needs to run fusions, valid only inside ``Runtime.open``."""

    settings: Settings
    config: FusionConfig
    http: httpx.AsyncClient
    client: ModelClient
    """The model client every stage calls: retries around the OpenAI-compatible client with
    the provider ``FUSION_PROVIDER`` chose (``bots.endpoint``)."""
    prices: PriceSource
    engine: FusionEngine

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        settings: Settings,
        *,
        config: FusionConfig | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> AsyncIterator[Runtime]:
        """Open the process resources.

        Raises ``ConfigError`` (how to fix it in the message) when the API key is missing or
        the pool file is wrong (or has prices the provider does not use), before anything is
        opened. ``config`` skips loading the pool
        file again when the caller already has it; ``http`` lends an existing client (the
        caller keeps ownership of it).
        """
        if config is None:
            config = load_pool_file(settings)
        endpoint = model_endpoint(settings, config)
        async with AsyncExitStack() as stack:
            if http is None:
                raise_open_files_limit()  # so the pool can hold its default 4,096 connections
                http = await stack.enter_async_context(new_http_client())
            client = endpoint.client(http)
            # Closed before the http client (the stack unwinds in reverse): a background price
            # refresh must not outlive the client it uses.
            prices = await stack.enter_async_context(endpoint.prices(http))
            yield cls(
                settings=settings,
                config=config,
                http=http,
                client=client,
                prices=prices,
                engine=FusionEngine(client, prices),
            )
