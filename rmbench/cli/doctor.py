"""``rmbench doctor MODEL``: measured checks of a reward-model set-up on a small sample (docs/doctor.md).

Prints check | status | measured value | advice; exits 1 when a check fails (a finding, like ``gate``),
2 on a usage error. ``--json FILE`` writes the results; ``--out RUN_DIR`` writes ``RUN_DIR/setup.json``
and, for a finished run, refreshes its ``report.md`` "Set-up" section.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Optional

import typer

from rmbench.cli.options import DataDir, DataFile, FieldMap, TasksDir, task_overrides
from rmbench.config import Dtype, TruncationSide

if TYPE_CHECKING:
    from rmbench.doctor.checks import CheckResult
    from rmbench.doctor.diagnose import DoctorOptions

DoctorKind = Literal["scalar", "likelihood", "implicit", "process"]
STYLE = {"pass": "green", "info": "cyan", "warn": "yellow", "fail": "bold red"}


def doctor(
    model: Annotated[str, typer.Argument(help="Local folder or Hub id[@revision], as for 'rmbench run --model'.")],
    task: Annotated[Optional[str], typer.Option("--task", "-t", help="Task to sample (default: the bundled LLMBar sample).")] = None,
    kind: Annotated[DoctorKind, typer.Option(help="What the model is (batching is measured for scalar, likelihood, implicit).")] = "scalar",
    dtype: Annotated[Dtype, typer.Option(help="The dtype to judge; float32 is always measured too (auto = float32 on CPU).")] = "auto",
    n: Annotated[int, typer.Option("--n", help="Items of the task to score.")] = 16,
    max_length: Annotated[Optional[int], typer.Option(help="Tokens per sequence (default: the model's own limit).")] = None,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda | cuda:N.")] = "auto",
    truncation_side: Annotated[TruncationSide, typer.Option(help="left | right: which end of a long sequence is cut.")] = "left",
    reduction: Annotated[Literal["sum", "mean"], typer.Option(help="Likelihood: sum or mean of the response log-probs.")] = "sum",
    ref_model: Annotated[Optional[str], typer.Option("--ref-model", help="Reference model for --kind implicit.")] = None,
    allow_random_head: Annotated[bool, typer.Option("--allow-random-head", help="Report a random score head as warn, not fail.")] = False,
    threads: Annotated[Optional[int], typer.Option(help="torch CPU threads.")] = None,
    data_dir: DataDir = None,
    tasks_dir: TasksDir = None,
    data_file: DataFile = None,
    field: FieldMap = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write the results as JSON to this file.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="A run directory: write setup.json there for its report.md.")] = None,
) -> None:
    """Check a model set-up: batching flips (float32 and --dtype), BOS, chat template, pad token, truncation, dtype, head."""
    from rmbench.data.sources import resolve_data_dir
    from rmbench.doctor.diagnose import DoctorOptions, diagnose

    opts = DoctorOptions(
        model=model, task=task, kind=kind, dtype=dtype, n=n, max_length=max_length, device=device,
        truncation_side=truncation_side, reduction=reduction, ref_model=ref_model, allow_random_head=allow_random_head,
        data_dir=resolve_data_dir(data_dir), tasks_dirs=tuple(tasks_dir or ()), threads=threads,
        overrides=task_overrides(data_file, field, None, None) or None,
    )
    if out is not None and not out.is_dir():
        from rmbench.errors import UserError

        raise UserError(f"--out {out}: not a run directory", hint="pass the folder of an 'rmbench run'")
    results = diagnose(opts)
    _finish(opts, results, json_out, out)


def _finish(opts: DoctorOptions, results: list[CheckResult], json_out: Path | None, out: Path | None) -> None:
    from rich.table import Table

    from rmbench.cli.output import console
    from rmbench.doctor.checks import counts, worst
    from rmbench.results.files import atomic_write_json

    table = Table(title=f"rmbench doctor — {opts.model}")
    for col in ("check", "status", "measured value", "advice"):
        table.add_column(col, ratio=1 if col in ("measured value", "advice") else None)
    for r in results:
        table.add_row(r.name, f"[{STYLE[r.status]}]{r.status}[/]", r.value, r.advice)
    term = console()
    term.print(table)
    tally = counts(results)
    term.print(", ".join(f"{k} {v}" for k, v in tally.items()), highlight=False)
    payload = {
        "model": opts.model, "task": opts.task or "llmbar (bundled sample)",
        "kind": opts.kind, "dtype": opts.dtype, "n_items": opts.n,
        "status": worst(results), "counts": tally, "checks": [r.to_dict() for r in results],
    }
    if json_out is not None:
        atomic_write_json(json_out, payload)
    if out is not None:
        _write_setup(out, payload)
    if worst(results) == "fail":
        raise SystemExit(1)  # not typer.Exit: main() runs click in non-standalone mode, which swallows it


def _write_setup(run_dir: Path, payload: dict[str, Any]) -> None:
    """setup.json into the run directory, and report.md refreshed when the run has a summary."""
    from rmbench.doctor.setup import SETUP_FILE
    from rmbench.results.files import atomic_write_json, read_json

    atomic_write_json(run_dir / SETUP_FILE, payload)
    if (run_dir / "summary.json").is_file():
        from rmbench.runner import write_outputs

        write_outputs(run_dir, read_json(run_dir / "summary.json"))
