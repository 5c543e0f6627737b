"""``fusion pools``: what each pool asks, how it waits, and what a typical question costs.

The cost is the engine's own quote (the same upper estimate a budget reserves) for a question
of about sixty words, priced from the endpoint's ``/models`` list. Without an API key, or when
the price list cannot be fetched, the pools are still listed, with the cost left unknown and a
one-line note on stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from bots.cli_support import OneLineErrorsCommand, cli_errors, load_settings
from fusion_engine.errors import ConfigError, UnavailableError

if TYPE_CHECKING:  # the model stack loads when the command runs, not when the CLI starts
    from rich.table import Table

    from bots.settings import Settings
    from bots.wiring import Runtime
    from fusion_engine.config import FusionConfig
    from fusion_engine.pools import PoolSpec
    from fusion_engine.result import Quote

__all__ = ["TYPICAL_QUESTION", "quote_pools", "register", "render_pools"]

TYPICAL_QUESTION = (
    "Our team runs a Python web service on Postgres that now handles about two thousand "
    "requests per second at peak. Reads dominate, but a few write-heavy endpoints lock hot rows. "
    "Should we add a read replica, introduce a cache such as Redis, or partition the busiest "
    "tables first? Compare cost, operational risk, and how each choice changes failure modes."
)
"""About sixty words: the question whose quoted cost ``fusion pools`` shows."""


async def quote_pools(runtime: Runtime) -> dict[str, Quote]:
    """The quote for ``TYPICAL_QUESTION`` in every pool of ``runtime.config``."""
    import asyncio

    from fusion_engine.request import FusionRequest

    names = list(runtime.config.pools)
    quotes = await asyncio.gather(
        *(
            runtime.engine.quote(FusionRequest.create(TYPICAL_QUESTION, runtime.config.pool(n)))
            for n in names
        )
    )
    return dict(zip(names, quotes, strict=True))


async def _quotes(settings: Settings, config: FusionConfig) -> dict[str, Quote]:
    from bots.wiring import Runtime

    async with Runtime.open(settings, config=config) as rt:
        return await quote_pools(rt)


def _as_json(config: FusionConfig, quotes: dict[str, Quote]) -> str:
    pools: list[dict[str, Any]] = []
    for name, spec in config.pools.items():
        quote = quotes.get(name)
        pools.append(
            spec.model_dump(mode="json")
            | {
                "default": name == config.default_pool,
                "typical_quote": None if quote is None else quote.model_dump(mode="json"),
            }
        )
    return json.dumps({"default_pool": config.default_pool, "pools": pools}, indent=2)


def pools(
    as_json: Annotated[bool, typer.Option("--json", help="Print the pools as JSON.")] = False,
) -> None:
    """List the pools (default marked), their models and knobs, and a typical question's cost."""
    import asyncio

    from bots.settings import load_pool_file
    from bots.terminal import make_console

    with cli_errors():
        settings = load_settings()
        config = load_pool_file(settings)
        quotes: dict[str, Quote] = {}
        try:
            quotes = asyncio.run(_quotes(settings, config))
        except (ConfigError, UnavailableError) as exc:
            typer.echo(f"Note: costs unknown: {' '.join(exc.user_message.split())}", err=True)
        if as_json:
            sys.stdout.write(_as_json(config, quotes) + "\n")
        else:
            render_pools(make_console(sys.stdout), config, dict(quotes))


def _pool_block(spec: PoolSpec, quote: Quote | None) -> Table:
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    if spec.description:
        grid.add_row("about", Text(spec.description))
    fallbacks = {m: ", ".join(fs) for m, fs in spec.fallbacks.items()}
    grid.add_row(
        "panel",
        Text(
            "\n".join(
                m + (f" (fallback {fallbacks[m]})" if m in fallbacks else "") for m in spec.models
            )
        ),
    )
    for role, model, fallback in (
        ("judge", spec.judge, spec.judge_fallback),
        ("writer", spec.writer, spec.writer_fallback),
    ):
        grid.add_row(role, Text(model + (f" (fallback {fallback})" if fallback else "")))
    grid.add_row("quorum", f"{spec.quorum} of {len(spec.models)}")
    grid.add_row(
        "timeouts",
        f"per call {spec.call_timeout_s:g} s, grace {spec.grace_s:g} s, "
        f"panel deadline {spec.deadline_s:g} s, retries {spec.max_retries}",
    )
    grid.add_row(
        "tokens",
        f"panel {spec.max_output_tokens}, judge {spec.judge_max_tokens}, "
        f"writer {spec.writer_max_tokens}",
    )
    if quote is None:
        cost = Text("unknown (no prices available)", style="dim")
    else:
        cost = Text(f"up to {quote.usd}")
        if quote.unpriced:
            from fusion_engine.llm.pricing import unpriced_note

            cost.append(f" ({unpriced_note(quote.unpriced)})", "dim")
    grid.add_row("typical cost", cost)
    return grid


def render_pools(
    console: Console, config: FusionConfig, quotes: Mapping[str, Quote | None]
) -> None:
    """Every pool with its members, knobs, and the quoted cost of a typical question."""
    for name, spec in config.pools.items():
        console.print()
        title = Text(name, style="bold")
        if name == config.default_pool:
            title.append(" (default)", style="green")
        console.print(title)
        console.print(_pool_block(spec, quotes.get(name)))


def register(app: typer.Typer) -> None:
    """Add ``fusion pools`` to the CLI."""
    app.command("pools", cls=OneLineErrorsCommand)(pools)
