"""``rmbench leaderboard build | verify | render``: leaderboard files from run directories."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from rmbench.cli.options import DataDir
from rmbench.cli.output import console

leaderboard_app = typer.Typer(no_args_is_help=True, help="Build, verify and render leaderboard files.")


@leaderboard_app.command("build")
def leaderboard_build(
    runs: Annotated[list[Path], typer.Argument(
        help="Run directories of one task version and data fingerprint, or folders of them (runs/llmbar).")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Default: leaderboards/<task>.json.")] = None,
    runs_root: Annotated[
        Optional[Path], typer.Option("--runs-root", help="Record run directories relative to this folder.")
    ] = None,
    n_bootstrap: Annotated[int, typer.Option(help="Resamples for the pairwise tie tests.")] = 10000,
) -> None:
    """Collect runs into a versioned leaderboard JSON (schema rmbench.analysis.leaderboard/1, docs/leaderboard.md)."""
    from rmbench.analysis.leaderboard import (
        build_leaderboard,
        default_output_path,
        render_summary_table,
        write_leaderboard,
    )

    doc = build_leaderboard(runs, runs_root=runs_root, n_resamples=n_bootstrap)
    path = out or default_output_path(doc)
    write_leaderboard(doc, path)
    console().print(render_summary_table(doc))
    console(stderr=True).print(f"[green]wrote[/green] {path} ({len(doc['entries'])} entries)")


@leaderboard_app.command("verify")
def leaderboard_verify(
    file: Annotated[Path, typer.Argument(help="Leaderboard JSON file.")],
    runs_root: Annotated[
        Optional[Path], typer.Option("--runs-root", help="Resolve the recorded run directories against this folder.")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Recompute every number of a leaderboard from the runs' per-item files, after checking each item's id
    and re-grading it from its raw scores (needs the task's data); exit 1 on any mismatch."""
    from rich.markup import escape

    from rmbench.analysis.leaderboard import load_leaderboard, verify_leaderboard
    from rmbench.data.sources import resolve_data_dir

    doc = load_leaderboard(file)
    problems = verify_leaderboard(doc, runs_root, resolve_data_dir(data_dir), leaderboard_file=file)
    out = console()
    if problems:
        for p in problems:
            out.print("[red]mismatch[/red]: " + escape(str(p)), highlight=False)
        out.print(f"[red]{len(problems)} mismatch(es)[/red] in {file}")
        raise SystemExit(1)
    out.print(f"[green]ok[/green]: {len(doc['entries'])} entries of {file} reproduce from their runs")


@leaderboard_app.command("render")
def leaderboard_render(
    files: Annotated[Optional[list[Path]], typer.Argument(
        help="Leaderboard JSON files (default: leaderboards/*.json); one section of the page each.")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")] = Path("leaderboard.html"),
) -> None:
    """Write a static, self-contained HTML page: sortable tables with intervals, section and subset
    columns, a plot per task (plotly, inline) and each model's manifest. Needs rmbench[page]."""
    from rmbench.analysis.leaderboard import load_leaderboard
    from rmbench.errors import UserError
    from rmbench.reports.leaderboard_page import render_page
    from rmbench.results.files import atomic_write_text

    paths = list(files or sorted(Path("leaderboards").glob("*.json")))
    if not paths:
        raise UserError("no leaderboard files given and none in leaderboards/*.json",
                        hint="rmbench leaderboard build RUNS... writes one")
    atomic_write_text(out, render_page([load_leaderboard(p) for p in paths], [p.as_posix() for p in paths]))
    console(stderr=True).print(f"[green]wrote[/green] {out} ({len(paths)} leaderboard(s))")
