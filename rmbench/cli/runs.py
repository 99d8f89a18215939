"""Commands that read finished run directories, never models: ``report``, ``compare``, ``gate``, ``agree``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from rmbench.cli.options import DataDir, JsonOut, MdOut
from rmbench.cli.output import console, write_outputs


def report(
    run_dir: Path,
    data_dir: DataDir = None,
    n_bootstrap: Annotated[Optional[int], typer.Option(help="Bootstrap resamples (default: the run's).")] = None,
    confidence: Annotated[Optional[float], typer.Option(help="Interval confidence (default: the run's).")] = None,
) -> None:
    """Recompute summary.json and report.md of a run from its items.jsonl, after checking every item:
    ids and content against run.json, metrics re-graded from the raw scores (needs the task's data)."""
    from rmbench.reports.run_report import render_terminal
    from rmbench.results.recompute import recompute_report

    result = recompute_report(run_dir, data_dir, n_bootstrap=n_bootstrap, confidence=confidence)
    out = console()
    out.print(render_terminal(result.summary, width=out.width))
    err = console(stderr=True)
    if result.regrade_skipped:
        err.print(f"[yellow]warning[/yellow]: per-item metrics not re-graded: {result.regrade_skipped}",
                  highlight=False, soft_wrap=True)
    if result.n_scored < result.n_items:
        err.print(f"[yellow]partial run[/yellow]: {result.n_scored} of {result.n_items} items scored; rerun to finish.")


def compare(
    run_a: Annotated[Path, typer.Argument(help="Baseline run directory (A).")],
    run_b: Annotated[Path, typer.Argument(help="Candidate run directory (B).")],
    md: MdOut = None,
    json_out: JsonOut = None,
    metric: Annotated[Optional[str], typer.Option(help="Metric to compare (default: the task's primary metric).")] = None,
    n_bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 10000,
    confidence: float = 0.95,
    alpha: Annotated[float, typer.Option(help="Significance level for the minimum detectable effect.")] = 0.05,
) -> None:
    """Paired comparison of two runs on the same items: CIs, paired-bootstrap difference, McNemar, Holm, MDE."""
    from rmbench.analysis.compare import compare_runs, render_markdown, render_terminal
    from rmbench.analysis.pairing import load_run_dir

    comp = compare_runs(load_run_dir(run_a), load_run_dir(run_b), metric=metric, n_resamples=n_bootstrap,
                        confidence=confidence, alpha=alpha)
    console().print(render_terminal(comp))
    write_outputs(md, render_markdown(comp), json_out, comp.to_dict())


def gate(
    baseline: Annotated[Path, typer.Option("--baseline", help="Baseline run directory, or its summary.json.")],
    candidate: Annotated[Path, typer.Option("--candidate", help="Candidate run directory.")],
    max_drop: Annotated[float, typer.Option("--max-drop", help="Tolerated drop in percentage points.")],
    alpha: Annotated[float, typer.Option("--alpha", help="Chance that noise alone fails the gate.")] = 0.05,
    subsets: Annotated[bool, typer.Option(help="Gate every subset too (Bonferroni over all cases).")] = True,
    md: MdOut = None,
    junit: Annotated[Optional[Path], typer.Option("--junit", help="Write a JUnit XML report here.")] = None,
    json_out: JsonOut = None,
    n_bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 10000,
    metric: Annotated[Optional[str], typer.Option(help="Metric to gate on (default: the task's primary metric).")] = None,
) -> None:
    """CI regression gate: exit 1 when the candidate is significantly worse than the baseline by more than
    --max-drop points (rule in docs/ci-gate.md), 0 when it passes, 2 on usage or input errors."""
    from rmbench.analysis.gate import render_junit, render_markdown, render_terminal, run_gate
    from rmbench.results.files import atomic_write_text

    result = run_gate(baseline, candidate, max_drop=max_drop, alpha=alpha, subsets=subsets, n_resamples=n_bootstrap,
                      metric=metric)
    console().print(render_terminal(result))
    write_outputs(md, render_markdown(result), json_out, result.to_dict())
    if junit is not None:
        atomic_write_text(junit, render_junit(result))
    if not result.passed:
        raise SystemExit(1)  # not typer.Exit: main() runs click in non-standalone mode, which swallows it


def agree(
    runs: Annotated[list[Path], typer.Argument(help="Two or more run directories on the same items.")],
    md: MdOut = None,
    json_out: JsonOut = None,
    n_bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 2000,
    confidence: float = 0.95,
) -> None:
    """Agreement between raters: Cohen's kappa matrix, Fleiss' kappa, confusion tables, rank changes."""
    from rmbench.analysis.agree import agree as agree_runs
    from rmbench.analysis.agree import render_markdown, render_terminal
    from rmbench.analysis.pairing import load_run_dir

    result = agree_runs([load_run_dir(r) for r in runs], n_resamples=n_bootstrap, confidence=confidence)
    console().print(render_terminal(result))
    write_outputs(md, render_markdown(result), json_out, result.to_dict())
