"""What every ``fusion`` command shares: one stderr line per deliberate failure, and settings.

Every way a command can fail on purpose ends the same way: one line on stderr and an exit code
a script can branch on, never a traceback. Exit 2 means the input or usage was wrong (nothing
was sent to any model); exit 1 means something failed at run time (configuration, missing key,
too few models answered, an endpoint down, a budget that cannot cover the quote). Bugs still
raise, so they are seen.

This module is imported by every command module when the CLI starts, so it imports only
Typer and the core's errors; settings are read (and pydantic loaded) when a command runs.
"""

from __future__ import annotations

from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from fusion_engine.errors import ConfigError, FusionError, InputError

if TYPE_CHECKING:
    from bots.settings import Settings

__all__ = [
    "EXIT_INPUT",
    "EXIT_RUNTIME",
    "FusionGroup",
    "OneLineErrorsCommand",
    "cli_errors",
    "load_settings",
    "run_until_stopped",
]

EXIT_RUNTIME = 1
EXIT_INPUT = 2
_EXIT_INTERRUPTED = 130


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"Error: {' '.join(message.split())}", err=True)
    raise typer.Exit(code)


def _plain_help(params: list[Any]) -> list[Any]:
    """Typer's rich help prints a type after every option, so a flag reads ``--json <bool>``
    as if it took a value: a flag shows no type (an empty metavar), as click's plain help does."""
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""
    return params


def _usage_pieces(command: Any, ctx: Any) -> list[str]:
    """The usage line the way every CLI writes it, ``[OPTIONS] QUESTION...`` (Typer writes a
    required argument as ``{question}...``)."""
    pieces = [command.options_metavar] if command.options_metavar else []
    for param in command.get_params(ctx):
        if isinstance(param, TyperArgument):
            name = (param.metavar or param.name or "").upper() + ("..." if param.nargs != 1 else "")
            pieces.append(name if param.required else f"[{name}]")
        else:
            pieces.extend(param.get_usage_pieces(ctx))
    return pieces


class FusionGroup(TyperGroup):
    """The ``fusion`` group: flags shown as flags (commands are listed in the order
    ``bots.cli`` registers them)."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_help(super().get_params(ctx))


class OneLineErrorsCommand(TyperCommand):
    """A command whose usage errors (unknown flag, missing argument) are one stderr line.

    Typer vendors click and exports neither its ``Context`` (``typer.Context`` is a subclass,
    narrower than what is passed here) nor ``UsageError``; every error parsing raises is a
    ``typer.TyperException`` (click's usage errors are its subclasses), hence the loose ``ctx``.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except typer.TyperException as exc:
            _fail(f"{exc.format_message()} (see `{ctx.command_path} --help`)", EXIT_INPUT)

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_help(super().get_params(ctx))

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return _usage_pieces(self, ctx)


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turn deliberate Fusion errors into one stderr line and the matching exit code."""
    try:
        yield
    except InputError as exc:
        _fail(exc.user_message, EXIT_INPUT)
    except FusionError as exc:
        _fail(exc.user_message, EXIT_RUNTIME)
    except KeyboardInterrupt:
        _fail("interrupted", _EXIT_INTERRUPTED)


def run_until_stopped(main: Coroutine[Any, Any, None]) -> None:
    """``asyncio.run(main)`` for a long-running process, stopped by SIGTERM as by Ctrl-C.

    ``kill``, honcho and hosting platforms stop a process with SIGTERM, whose default action
    ends Python on the spot: nothing ``main`` owns is closed, and an embedded Redis it started
    is left running with no owner. Here SIGTERM cancels ``main`` instead, so its exit stack
    unwinds (the Redis saved and stopped, connections closed), and the process exits 0."""
    import asyncio
    import contextlib
    import signal

    async def run() -> None:
        task = asyncio.current_task()
        assert task is not None
        terminated = asyncio.Event()

        def stop() -> None:
            terminated.set()
            task.cancel()

        # Only the main thread can take signals (not so when a test runs the CLI in a thread).
        with contextlib.suppress(RuntimeError, NotImplementedError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop)
        try:
            await main
        except asyncio.CancelledError:
            if not terminated.is_set():
                raise
            task.uncancel()

    asyncio.run(run())


def load_settings() -> Settings:
    """Read the process settings; a malformed variable becomes a ``ConfigError``."""
    from pydantic import ValidationError

    from bots.settings import Settings
    from fusion_engine.config import describe_problems

    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError(
            f"Bad environment settings: {describe_problems(exc, upper=True)}."
        ) from None
