"""``fusion keys``: create, list and revoke the API keys ``fusion serve`` accepts.

A key names the tenant whose budget pays for its requests. ``create`` prints the secret once,
alone on the last line of stdout (so ``KEY=$(fusion keys create acme | tail -1)`` works); only
its SHA-256 is stored, so a lost key cannot be shown again: revoke it and create another.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from bots.cli_support import OneLineErrorsCommand, cli_errors, load_settings

if TYPE_CHECKING:  # Redis loads when a keys command runs, not when the CLI starts
    from adapters.api.store import ApiKey, ApiKeyStore

__all__ = ["keys_app", "register"]

keys_app = typer.Typer(
    name="keys",
    help="API keys for `fusion serve`: each bills one tenant's budget.",
    no_args_is_help=True,
)

T = TypeVar("T")


def _run(action: Callable[[ApiKeyStore], Awaitable[T]]) -> T:
    """Open Redis and the key store for one command, run ``action``, close everything."""
    from adapters.api.store import ApiKeyStore
    from bots.redis_runtime import run_on_redis

    return run_on_redis(load_settings(), lambda redis: action(ApiKeyStore(redis)))


def _row(key: ApiKey) -> dict[str, str]:
    return {
        "id": key.id,
        "tenant": key.tenant,
        "name": key.name,
        "created_at": key.created_at.isoformat(timespec="seconds"),
    }


@keys_app.command("create", cls=OneLineErrorsCommand)
def create(
    tenant: Annotated[str, typer.Argument(help="The tenant whose budget the key spends.")],
    name: Annotated[str, typer.Option(help="A label to recognise the key by.")] = "",
) -> None:
    """Create a key; its secret is printed once, alone on the last line."""
    with cli_errors():
        new = _run(lambda store: store.create(tenant, name=name))
    typer.echo(f"Created {new.key.id} for tenant {new.key.tenant}. Store the key now; it is")
    typer.echo("shown only once (only its hash is kept):")
    typer.echo(new.secret)


@keys_app.command("list", cls=OneLineErrorsCommand)
def list_keys(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Every live key: id, tenant, name, created (never the secret)."""
    with cli_errors():
        keys = _run(lambda store: store.all())
    rows = [_row(k) for k in keys]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    if not rows:
        typer.echo("No API keys yet: `fusion keys create TENANT` makes one.")
        return
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in ("id", "tenant", "name")}
    typer.echo("  ".join(c.upper().ljust(w) for c, w in widths.items()) + "  CREATED")
    for r in rows:
        typer.echo("  ".join(r[c].ljust(w) for c, w in widths.items()) + f"  {r['created_at']}")


@keys_app.command("revoke", cls=OneLineErrorsCommand)
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (`fusion keys list`).")],
) -> None:
    """Revoke a key: requests with it are refused (401) from now on."""
    with cli_errors():
        key = _run(lambda store: store.revoke(key_id))
    typer.echo(f"Revoked {key.id} (tenant {key.tenant}).")


def register(app: typer.Typer) -> None:
    """Add ``fusion keys create|list|revoke`` to the CLI."""
    app.add_typer(keys_app, name="keys")
