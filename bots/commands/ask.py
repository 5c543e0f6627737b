"""``fusion ask``: fuse one question from the terminal, with live progress.

Failures end as one stderr line and an exit code (see ``bots.cli_support``).

With ``--tenant`` the fusion is charged like a chat one (``run_charged``: reserve the quote,
run, settle what was spent, even on Ctrl-C), on ``REDIS_URL`` or the embedded Redis.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from bots.cli_support import OneLineErrorsCommand, cli_errors, load_settings
from fusion_engine.errors import InputError

if TYPE_CHECKING:  # the model stack loads when the command runs, not when the CLI starts
    from bots.settings import Settings
    from bots.wiring import Runtime
    from fusion_engine.budget.base import BudgetStatus
    from fusion_engine.config import FusionConfig
    from fusion_engine.events import FusionEvent
    from fusion_engine.port import OnEvent
    from fusion_engine.request import FusionRequest
    from fusion_engine.result import FusionResult

__all__ = ["register"]


_EMPTY_QUESTION = (
    'The question is empty. Ask something, e.g. `fusion ask "Why is the sky blue?"`, '
    "or pipe it in with `fusion ask - < question.txt`."
)


def _read_question(words: list[str]) -> str:
    """The question typed (or piped in with ``-``); empty is refused in the CLI's own terms
    (the core's message speaks chat, ``/fuse ...``)."""
    text = sys.stdin.read() if words == ["-"] else " ".join(words)
    if not text.strip():
        raise InputError(_EMPTY_QUESTION)
    return text


def _split_models(models: str) -> tuple[str, ...]:
    return tuple(m for m in models.split(","))


def build_request(
    config: FusionConfig,
    question: str,
    *,
    pool: str | None,
    models: str | None,
    judge: str | None,
    writer: str | None,
    tenant: str | None = None,
) -> FusionRequest:
    """Validate everything the user typed; ``InputError`` before anything is called."""
    from fusion_engine.request import FusionRequest

    if pool is not None and models is not None:
        raise InputError("Use --pool or --models, not both (--models keeps the default knobs).")
    spec = config.resolve(
        pool,
        models=_split_models(models) if models is not None else None,
        judge=judge,
        writer=writer,
    )
    if tenant is not None and not tenant.strip():
        raise InputError("--tenant needs a name, e.g. --tenant my-team.")
    return FusionRequest.create(question, spec, tenant=tenant or "cli")


async def _charged(
    settings: Settings, rt: Runtime, request: FusionRequest, tenant: str, show: OnEvent
) -> tuple[FusionResult, BudgetStatus]:
    """Run the fusion against ``tenant``'s budget: reserve the quote, run, settle the cost."""
    from bots.redis_runtime import open_redis
    from fusion_engine.budget.redis_store import RedisBudgetStore
    from fusion_engine.service import run_charged

    async with open_redis(settings) as redis:
        budgets = RedisBudgetStore.from_defaults(redis.redis, rt.config.budgets)
        result = await run_charged(budgets, rt.engine, request, tenant=tenant, on_event=show)
        return result, await budgets.status(tenant)


async def _fuse(
    settings: Settings,
    config: FusionConfig,
    request: FusionRequest,
    *,
    as_json: bool,
    tenant: str | None,
) -> FusionResult:
    from bots.terminal import ProgressView, make_console, render_result
    from bots.wiring import Runtime
    from fusion_engine.allowance import UNLIMITED
    from fusion_engine.money import format_usd
    from fusion_engine.port import consume

    progress = make_console(sys.stderr if as_json else sys.stdout)
    budget: BudgetStatus | None = None
    async with Runtime.open(settings, config=config) as rt:
        with ProgressView(progress) as view:

            async def show(event: FusionEvent) -> None:
                view.handle(event)

            if tenant is not None:
                result, budget = await _charged(settings, rt, request, tenant, show)
            else:
                result = await consume(rt.engine.run(request, UNLIMITED), on_event=show)
    if as_json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
        sys.stdout.flush()
    else:
        render_result(progress, result, answer_printed=view.answer_printed)
        if budget is not None:
            progress.print(
                f"Budget: charged {format_usd(result.cost_micros)} to {budget.tenant}; "
                f"{format_usd(budget.remaining_micros)} left "
                f"(day resets {budget.daily_resets_at:%Y-%m-%d %H:%M} UTC)."
            )
    return result


def ask(
    question: Annotated[
        list[str],
        typer.Argument(help="The question (quote it, or several words); '-' reads stdin."),
    ],
    pool: Annotated[
        str | None, typer.Option("--pool", "-p", help="Pool to ask (see `fusion pools`).")
    ] = None,
    models: Annotated[
        str | None,
        typer.Option("--models", "-m", help="Comma-separated panel, e.g. 'a/x,b/y,c/z'."),
    ] = None,
    judge: Annotated[str | None, typer.Option(help="Judge model slug.")] = None,
    writer: Annotated[str | None, typer.Option(help="Writer model slug.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the result as JSON on stdout, nothing else.")
    ] = False,
    tenant: Annotated[
        str | None,
        typer.Option(
            help="Charge this tenant's budget (Redis at REDIS_URL, or the embedded one).",
        ),
    ] = None,
) -> None:
    """Ask a pool of models, compare their answers, and print one fused answer."""
    import asyncio

    from bots.endpoint import model_endpoint
    from bots.settings import load_pool_file
    from fusion_engine.request import validate_question

    with cli_errors():
        text = validate_question(_read_question(question))
        settings = load_settings()
        config = load_pool_file(settings)
        request = build_request(
            config, text, pool=pool, models=models, judge=judge, writer=writer, tenant=tenant
        )
        model_endpoint(settings, config)  # a missing key fails before any model is called
        asyncio.run(_fuse(settings, config, request, as_json=as_json, tenant=tenant))


def register(app: typer.Typer) -> None:
    """Add ``fusion ask`` to the CLI."""
    app.command("ask", cls=OneLineErrorsCommand)(ask)
