"""``rmbench run`` on a terminal: a progress bar while items are scored, then the result table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rmbench.cli.output import console

if TYPE_CHECKING:
    from rmbench.config import RunConfig


def run_with_progress(cfg: RunConfig, quiet: bool) -> None:
    """Run ``cfg`` with a progress bar on stderr, then print the result table and what was done."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from rmbench.executors import executor_for
    from rmbench.reports.run_report import render_terminal

    run_task = executor_for(cfg)

    err = console(stderr=True)
    bar = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TimeRemainingColumn(), console=err, disable=quiet, transient=False,
    )
    handle = bar.add_task(f"{cfg.task} · {cfg.model}", total=None)

    def progress(done: int, total: int) -> None:
        # Started on the first report, so errors found while loading print without a stray bar.
        if not bar.live.is_started:
            bar.start()
        bar.update(handle, completed=done, total=total)

    try:
        outcome = run_task(cfg, progress)
    finally:
        bar.stop()
    if not quiet:
        out = console()
        out.print(render_terminal(outcome.summary, width=out.width))
    err.print(
        f"[green]done[/green]: {outcome.scored_now} items scored{_from_cache(outcome.from_cache)}, {outcome.reused} reused "
        f"-> {outcome.run_dir}"
    )
    failed = (outcome.summary["results"].get("errors") or {}).get("n_items", 0)
    if failed:
        err.print(
            f"[yellow]warning[/yellow]: {failed} item{'s' if failed != 1 else ''} failed at the backend and "
            f"{'are' if failed != 1 else 'is'} not graded; rerun the same command to ask {'them' if failed != 1 else 'it'} again."
        )


def _from_cache(n: int) -> str:
    """`` (N from the score cache)`` when the cache answered any item."""
    return f" ({n} from the score cache)" if n else ""
