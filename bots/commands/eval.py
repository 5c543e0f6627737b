"""``fusion eval``: does the fused answer beat its own panel? Measured, with the method shown.

Runs each question through the pool, then the self-preference and pairwise tests
(``fusion_eval``), and writes ``report.json``, ``report.md`` and ``win_rates.png`` to
``--out``. Finished questions are cached there, so rerunning the same command after an
interruption (or after ``--max-usd`` stopped it) continues where it stopped.

On a terminal a progress bar shows the running cost; elsewhere each settled question prints one
line. Errors follow ``fusion ask``: one stderr line, exit 2 for bad input, 1 at run time.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.text import Text

from bots.cli_support import OneLineErrorsCommand, cli_errors, load_settings
from fusion_engine.errors import InputError
from fusion_engine.money import format_usd, usd_to_micros

if TYPE_CHECKING:  # the eval (numpy, matplotlib) and the model stack load only for `fusion eval`
    from rich.progress import Progress, TaskID

    from bots.settings import Settings
    from fusion_engine.config import FusionConfig
    from fusion_engine.pools import PoolSpec
    from fusion_eval import EvalPlan, EvalProgress, EvalQuestion, EvalReport, ReportFiles

__all__ = ["EvalProgressView", "build_plan", "register"]

_EXIT_INTERRUPTED = 130


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def build_plan(
    config: FusionConfig,
    *,
    pool: str | None,
    models: str | None,
    judges: str | None,
    max_usd: float | None,
    parallel: int = 1,
) -> EvalPlan:
    """Validate the options into a plan; ``InputError`` before anything is called."""
    from fusion_eval import EvalPlan, default_judges

    if pool is not None and models is not None:
        raise InputError("Use --pool or --models, not both (--models keeps the default knobs).")
    spec = config.resolve(pool, models=_split(models) if models is not None else None)
    if judges is not None:
        chosen = _split(judges)
        if not chosen:
            raise InputError("--judges needs at least one model slug, e.g. --judges a/x,b/y")
        for slug in chosen:
            config.resolve(None, judge=slug)  # the same slug check as --judge elsewhere
    else:
        others = [p for name, p in config.pools.items() if name != spec.name]
        chosen = default_judges(spec, others)
    try:
        cap = usd_to_micros(max_usd) if max_usd is not None else None
    except ValueError:
        raise InputError(f"--max-usd must be a positive amount, got {max_usd!r}.") from None
    return EvalPlan(pool=spec, judges=chosen, max_micros=cap, parallel_questions=parallel)


class EvalProgressView:
    """A progress bar with the running cost on a terminal; one line per question elsewhere."""

    def __init__(self, console: Console, total: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._console = console
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        if console.is_terminal:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("spent {task.fields[cost]}"),
                TimeElapsedColumn(),
                console=console,
            )
            self._task = self._progress.add_task("eval", total=total, cost=format_usd(0))

    def __enter__(self) -> EvalProgressView:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def handle(self, event: EvalProgress) -> None:
        from bots.terminal import safe_text

        cost = format_usd(event.spent_micros)
        if self._progress is not None and self._task is not None:
            detail: str = event.phase
            if event.comparisons_total:
                detail += f" {event.comparisons_done}/{event.comparisons_total}"
            self._progress.update(
                self._task,
                completed=event.finished,
                description=f"{safe_text(event.question_id)} {detail}",
                cost=cost,
            )
        elif event.phase in ("cached", "done", "failed", "skipped"):
            self._console.print(
                Text(
                    f"[{event.finished}/{event.total}] {safe_text(event.question_id)}: "
                    f"{event.phase} (spent {cost})"
                )
            )


def _summary(console: Console, report: EvalReport, files: ReportFiles) -> None:
    for name, section in report.tests.items():
        s = section.overall
        if s.win_rate is None or s.ci is None:
            line = f"{name}: no valid comparisons"
        else:
            line = (
                f"{name}: fused answer win rate {100 * s.win_rate:.1f}% "
                f"(95% CI {100 * s.ci.low:.1f}–{100 * s.ci.high:.1f}%), "
                f"{s.wins} win / {s.ties} tie / {s.losses} loss, {s.invalid} invalid"
            )
            if s.length_controlled is not None:
                line += f"; length-controlled {100 * s.length_controlled.win_rate:.1f}%"
        console.print(Text(line))
    console.print(
        Text(
            f"Spent {format_usd(report.spent_micros)} in {report.elapsed_s:.1f} s; "
            f"{report.questions_run} run, {report.questions_cached} cached, "
            f"{len(report.questions_failed)} failed, {len(report.questions_skipped)} skipped."
        )
    )
    if report.stopped_reason:
        console.print(Text(f"Budget cap: {report.stopped_reason}.", style="yellow"))
    console.print(Text(f"Report: {files.markdown} ({files.json.name}, {files.chart.name})"))


async def _evaluate(
    settings: Settings,
    config: FusionConfig,
    plan: EvalPlan,
    questions: tuple[EvalQuestion, ...],
    out_dir: Path,
) -> None:
    from bots.terminal import make_console
    from bots.wiring import Runtime
    from fusion_eval import build_report, run_eval, write_report

    console = make_console(sys.stderr)
    async with Runtime.open(settings, config=config) as rt:
        with EvalProgressView(console, len(questions)) as view:
            run = await run_eval(
                plan,
                questions,
                fuser=rt.engine,
                client=rt.client,
                prices=rt.prices,
                out_dir=out_dir,
                on_progress=view.handle,
            )
    report = build_report(run)
    files = write_report(report, out_dir)
    _summary(make_console(sys.stdout), report, files)


def _default_out(spec: PoolSpec) -> Path:
    return Path("fusion-eval") / spec.name


def eval_command(
    pool: Annotated[str | None, typer.Option("--pool", "-p", help="Pool to evaluate.")] = None,
    models: Annotated[
        str | None,
        typer.Option("--models", "-m", help="Comma-separated panel instead of a pool."),
    ] = None,
    questions: Annotated[
        Path | None,
        typer.Option(help="JSONL file, one {'id', 'question'} object a line (default: built-in)."),
    ] = None,
    judges: Annotated[
        str | None,
        typer.Option(help="Comma-separated independent judges (default: models off the panel)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Report and resume-cache directory (default: fusion-eval/<pool>)."),
    ] = None,
    max_usd: Annotated[
        float | None, typer.Option("--max-usd", help="Stop before spending more than this.")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N questions.")] = None,
    parallel: Annotated[
        int, typer.Option(min=1, max=32, help="Questions fused and judged at the same time.")
    ] = 4,
) -> None:
    """Measure whether the fused answer beats each panel model's own answer."""
    import asyncio

    from bots.endpoint import model_endpoint
    from bots.settings import load_pool_file
    from fusion_eval import load_questions

    with cli_errors():
        settings = load_settings()
        config = load_pool_file(settings)
        plan = build_plan(
            config, pool=pool, models=models, judges=judges, max_usd=max_usd, parallel=parallel
        )
        items = load_questions(questions)[:limit]
        out_dir = out or _default_out(plan.pool)
        model_endpoint(settings, config)
        try:
            asyncio.run(_evaluate(settings, config, plan, items, out_dir))
        except KeyboardInterrupt:
            typer.echo(
                f"Interrupted; finished questions are cached in {out_dir}. "
                "Run the same command again to continue.",
                err=True,
            )
            raise typer.Exit(_EXIT_INTERRUPTED) from None


def register(app: typer.Typer) -> None:
    """Add ``fusion eval`` to the CLI."""
    app.command("eval", cls=OneLineErrorsCommand)(eval_command)
