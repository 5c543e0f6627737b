"""``fusion serve``: the OpenAI-compatible API (the Procfile's ``api`` process).

Serves ``POST /v1/chat/completions`` (plain and streamed), ``GET /v1/models`` and ``/healthz``
on ``PORT`` (or ``--port``). Every request needs a key from ``fusion keys create``; the key's
tenant pays, from the same budget as its chat questions. Fusions run in this process (so they
can stream), on Redis (``REDIS_URL`` or the embedded server) for budgets, limits and keys.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from bots.cli_support import OneLineErrorsCommand, cli_errors, load_settings
from fusion_engine.errors import ConfigError

if TYPE_CHECKING:  # aiohttp, Redis and the model stack load only when the server runs
    from bots.settings import Settings
    from fusion_engine.port import EnginePort

__all__ = ["open_api", "register"]


@asynccontextmanager
async def open_api(
    settings: Settings,
    *,
    host: str,
    port: int,
    rate_limit: str | None = None,
    wrap_engine: Callable[[EnginePort], EnginePort] | None = None,
) -> AsyncIterator[str]:
    """Serve the API on ``host:port`` (0: any free port) for the block; yields its base URL.

    ``wrap_engine`` wraps the engine the API runs (``bench/bench_api.py`` times its events)."""
    from aiohttp import web

    from adapters.api import ApiDeps, ApiKeyStore, web_app
    from bots.redis_runtime import open_redis
    from bots.wiring import Runtime
    from fusion_engine.budget.redis_store import RedisBudgetStore
    from fusion_engine.ratelimit import UserRateLimiter

    async with AsyncExitStack() as stack:
        runtime = await stack.enter_async_context(Runtime.open(settings))
        config = runtime.config
        redis = (await stack.enter_async_context(open_redis(settings))).redis
        deps = ApiDeps(
            config=config,
            engine=runtime.engine if wrap_engine is None else wrap_engine(runtime.engine),
            budgets=RedisBudgetStore.from_defaults(redis, config.budgets),
            limiter=UserRateLimiter.on_redis(rate_limit or config.budgets.user_rate_limit, redis),
            keys=ApiKeyStore(redis),
        )
        # handler_cancellation: a client that hangs up cancels its fusion (and its spending).
        runner = web.AppRunner(web_app(deps), handler_cancellation=True, access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        try:
            await web.TCPSite(runner, host, port, backlog=1024).start()
        except OSError as exc:
            raise ConfigError(
                f"Cannot listen on {host}:{port} ({exc.strerror}). Choose another port with "
                "--port or PORT."
            ) from exc
        bound_host, bound_port = runner.addresses[0][:2]
        yield f"http://{bound_host}:{bound_port}/v1"


def serve_command(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "0.0.0.0",  # noqa: S104
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default: PORT, else 3000).")
    ] = None,
    rate_limit: Annotated[
        str | None,
        typer.Option(help="Requests per key, e.g. '30/minute' (default: the user rate limit)."),
    ] = None,
) -> None:
    """Serve the OpenAI-compatible API: /v1/chat/completions, /v1/models (keys: fusion keys)."""
    import asyncio

    with cli_errors():
        settings = load_settings()
        from bots.observability import configure_logging
        from bots.wiring import tune_gc_for_serving

        configure_logging(settings.log_level)

        async def run() -> None:
            listen = settings.port if port is None else port
            async with open_api(settings, host=host, port=listen, rate_limit=rate_limit) as url:
                tune_gc_for_serving()
                typer.echo(f"Fusion API on {url} (models: fusion, fusion/<pool>)", err=True)
                await asyncio.Event().wait()

        asyncio.run(run())


def register(app: typer.Typer) -> None:
    app.command("serve", cls=OneLineErrorsCommand)(serve_command)
