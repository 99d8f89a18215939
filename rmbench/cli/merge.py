"""``rmbench merge``: join the run directories of ``rmbench run --shard i/n`` into one run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rmbench.cli.output import console


def merge(
    shard_dirs: Annotated[list[Path], typer.Argument(help="The shards' run directories (any order).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run directory to write (the unsharded run's).")],
    allow_partial: Annotated[bool, typer.Option(
        "--allow-partial", help="Write a partial run when items are missing ('rmbench run --out DIR' completes it).")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace the run files of an existing --out.")] = False,
    quiet: Annotated[bool, typer.Option(help="No result table (files are still written).")] = False,
) -> None:
    """Join shards by item id into one run directory whose summary equals the unsharded run's; refuses shards
    of different configurations, overlapping items with different results, and missing items."""
    from rmbench.reports.run_report import render_terminal
    from rmbench.shards.merge import merge_shards

    outcome = merge_shards(shard_dirs, out, allow_partial=allow_partial, overwrite=overwrite)
    if not quiet:
        con = console()
        con.print(render_terminal(outcome.summary, width=con.width))
    err = console(stderr=True)
    merged = outcome.n_items - len(outcome.missing)
    err.print(f"[green]merged[/green]: {merged} of {outcome.n_items} items from {len(shard_dirs)} shard "
              f"directories -> {outcome.run_dir}")
    if outcome.missing:
        err.print(f"[yellow]partial run[/yellow]: {len(outcome.missing)} items missing; "
                  f"'rmbench run ... --out {outcome.run_dir}' scores them.")
