"""``fusion budget``: show, set, reset and list tenant budgets (Redis, or the embedded server).

A tenant is a Slack workspace (``enterprise_id|team_id``), a Discord guild id, or a name used
with ``fusion ask --tenant``. Amounts are entered and shown in USD; they are stored as integer
micro-dollars. Exit codes follow ``fusion ask``: 2 for bad input, 1 when Redis is unreachable.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from bots.cli_support import OneLineErrorsCommand, cli_errors, load_settings
from fusion_engine.errors import InputError
from fusion_engine.money import MICROS_PER_USD, format_usd, limit_to_micros

if TYPE_CHECKING:  # Redis loads when a budget command runs, not when the CLI starts
    from fusion_engine.budget.base import BudgetStatus
    from fusion_engine.budget.redis_store import RedisBudgetStore

__all__ = ["budget_app", "register"]

budget_app = typer.Typer(
    name="budget",
    help="Show and change tenant budgets (daily and monthly limits in USD, UTC windows).",
    no_args_is_help=True,
)

T = TypeVar("T")
Tenant = Annotated[str, typer.Argument(help="Slack 'enterprise|team', Discord guild id, or name.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _run(action: Callable[[RedisBudgetStore], Awaitable[T]]) -> T:
    """Open Redis and the budget store for one command, run ``action``, close everything."""
    from bots.redis_runtime import run_on_redis
    from bots.settings import load_pool_file
    from fusion_engine.budget.redis_store import RedisBudgetStore

    settings = load_settings()
    budgets = load_pool_file(settings).budgets
    return run_on_redis(
        settings, lambda redis: action(RedisBudgetStore.from_defaults(redis, budgets))
    )


def _tenant(name: str) -> str:
    name = name.strip()
    if not name:
        raise InputError("Give a tenant, e.g. `fusion budget show T0123|E0456`.")
    return name


def _usd(micros: int) -> float:
    return micros / MICROS_PER_USD


def _as_dict(s: BudgetStatus, *, known: bool = True) -> dict[str, object]:
    usd = _usd
    return {
        "tenant": s.tenant,
        "known": known,
        "daily_limit_usd": usd(s.daily_limit_micros),
        "monthly_limit_usd": usd(s.monthly_limit_micros),
        "daily_spent_usd": usd(s.daily_spent_micros),
        "monthly_spent_usd": usd(s.monthly_spent_micros),
        "held_usd": usd(s.held_micros),
        "remaining_usd": usd(s.remaining_micros),
        "daily_resets_at": s.daily_resets_at.isoformat(),
        "monthly_resets_at": s.monthly_resets_at.isoformat(),
        "warning": s.limits_warning,
    }


def _unknown_note(tenant: str) -> str:
    return (
        f"Note:     no record of {tenant!r} yet (never charged, no limits set): these are the "
        "defaults it would get. Check the name with `fusion budget list`."
    )


def _describe(s: BudgetStatus, *, known: bool = True) -> str:
    notes = [] if known else [_unknown_note(s.tenant)]
    if s.limits_warning:
        notes.append(f"Warning:  {s.limits_warning}")
    return "\n".join(
        [
            f"Tenant:   {s.tenant}",
            f"Today:    {format_usd(s.daily_spent_micros)} of {format_usd(s.daily_limit_micros)}"
            f" (resets {s.daily_resets_at:%Y-%m-%d %H:%M} UTC)",
            f"Month:    {format_usd(s.monthly_spent_micros)} of "
            f"{format_usd(s.monthly_limit_micros)}"
            f" (resets {s.monthly_resets_at:%Y-%m-%d %H:%M} UTC)",
            f"Held:     {format_usd(s.held_micros)} by fusions still running",
            f"Left:     {format_usd(s.remaining_micros)}",
            *notes,
        ]
    )


@budget_app.command("show", cls=OneLineErrorsCommand)
def show(tenant: Tenant, as_json: AsJson = False) -> None:
    """Limits, spend today and this month, money held by running fusions, and what is left."""
    with cli_errors():
        name = _tenant(tenant)

        async def look(store: RedisBudgetStore) -> tuple[BudgetStatus, bool]:
            return await store.status(name), await store.known(name)

        status, known = _run(look)
    if as_json:
        typer.echo(json.dumps(_as_dict(status, known=known)))
    else:
        typer.echo(_describe(status, known=known))


@budget_app.command("set", cls=OneLineErrorsCommand)
def set_limits(
    tenant: Tenant,
    daily: Annotated[float | None, typer.Option("--daily", help="Daily limit in USD.")] = None,
    monthly: Annotated[
        float | None, typer.Option("--monthly", help="Monthly limit in USD.")
    ] = None,
) -> None:
    """Set a tenant's daily and/or monthly limit in USD (an unset one keeps its value).

    A daily limit above the monthly one is accepted with a warning: both are enforced, so the
    monthly limit then caps each day as well."""
    with cli_errors():
        name = _tenant(tenant)
        if daily is None and monthly is None:
            raise InputError("Give --daily USD and/or --monthly USD, e.g. --daily 5 --monthly 50.")
        new_daily = None if daily is None else limit_to_micros(daily, option="--daily")
        new_monthly = None if monthly is None else limit_to_micros(monthly, option="--monthly")

        async def change(store: RedisBudgetStore) -> BudgetStatus:
            current = await store.status(name)
            await store.set_limits(
                name,
                daily_micros=current.daily_limit_micros if new_daily is None else new_daily,
                monthly_micros=current.monthly_limit_micros if new_monthly is None else new_monthly,
            )
            return await store.status(name)

        status = _run(change)
    typer.echo(_describe(status))


@budget_app.command("reset", cls=OneLineErrorsCommand)
def reset(tenant: Tenant) -> None:
    """Forget today's and this month's spend for a tenant (limits stay)."""
    with cli_errors():
        name = _tenant(tenant)

        async def clear(store: RedisBudgetStore) -> BudgetStatus:
            await store.reset(name)
            return await store.status(name)

        status = _run(clear)
    typer.echo(_describe(status))


@budget_app.command("list", cls=OneLineErrorsCommand)
def list_tenants(as_json: AsJson = False) -> None:
    """Every tenant with its spend today and this month."""
    with cli_errors():
        statuses = _run(lambda store: store.tenants())
    if as_json:
        typer.echo(json.dumps([_as_dict(s) for s in statuses]))
        return
    if not statuses:
        typer.echo("No tenants yet: a tenant appears once it is charged or given limits.")
        return
    width = max(len("TENANT"), *(len(s.tenant) for s in statuses))
    typer.echo(f"{'TENANT':<{width}}  {'TODAY':>21}  {'MONTH':>21}  {'HELD':>9}")
    for s in statuses:
        today = f"{format_usd(s.daily_spent_micros)}/{format_usd(s.daily_limit_micros)}"
        month = f"{format_usd(s.monthly_spent_micros)}/{format_usd(s.monthly_limit_micros)}"
        typer.echo(f"{s.tenant:<{width}}  {today:>21}  {month:>21}  {format_usd(s.held_micros):>9}")


def register(app: typer.Typer) -> None:
    """Add ``fusion budget show|set|reset|list`` to the CLI."""
    app.add_typer(budget_app, name="budget")
