"""The ``fusion`` command line. Each subcommand lives in its own module under ``bots/commands``
and registers itself on the shared Typer app; this module only assembles them."""

from __future__ import annotations

import importlib
from typing import Annotated

import typer
from typer.models import DefaultPlaceholder

from bots.cli_support import FusionGroup

__all__ = ["app", "main"]

app = typer.Typer(
    name="fusion",
    help="Ask several language models at once, have a judge compare them, and fuse one answer.",
    cls=FusionGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# One line per command module; each defines ``register(app: typer.Typer) -> None``. `--help`
# lists the commands in this order: what a newcomer tries first, then the chat processes and
# the worker, then the operator's tools.
COMMAND_MODULES: tuple[str, ...] = (
    "bots.commands.ask",
    "bots.commands.pools",
    "bots.commands.slack",
    "bots.commands.discord",
    "bots.commands.worker",
    "bots.commands.serve",
    "bots.commands.budget",
    "bots.commands.keys",
    "bots.commands.eval",
)


def _register_all() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)
    for group in app.registered_groups:  # `fusion budget --help` shows flags as flags too
        if isinstance(group.cls, DefaultPlaceholder):
            group.cls = FusionGroup


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"fusion {version('fusion')}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print Fusion's version and exit.",
        ),
    ] = False,
) -> None:
    """The root: only ``--version``; ``help`` above is what ``fusion --help`` shows."""


_register_all()


def main() -> None:
    app()
