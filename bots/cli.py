"""The ``fusion`` command line. Each subcommand lives in its own module under ``bots/commands``
and registers itself on the shared Typer app; this module only assembles them."""

from __future__ import annotations

import importlib

import typer

__all__ = ["app", "main"]

app = typer.Typer(
    name="fusion",
    help="Ask several language models at once, have a judge compare them, and fuse one answer.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# One line per command module; each defines ``register(app: typer.Typer) -> None``.
COMMAND_MODULES: tuple[str, ...] = (
    "bots.commands.discord",
    "bots.commands.slack",
    "bots.commands.eval",
    "bots.commands.ask",
    "bots.commands.pools",
    "bots.commands.budget",
    "bots.commands.worker",
    "bots.commands.serve",
    "bots.commands.keys",
)


def _register_all() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)


_register_all()


def main() -> None:
    app()
