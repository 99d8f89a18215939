"""``rmbench report``: recompute a run's summary from its items, trusting only what can be checked.

Items are audited (:func:`rmbench.results.audit.audit_items`: ids, content hashes, run identity) and
re-graded from their raw scores when the task's data can be read; any disagreement is an error,
never a number. Statistics settings (resamples, confidence) may be changed here: they are no part of
the run's identity, and run.json is updated so later readers (leaderboard) compute the same summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rmbench.errors import UserError
from rmbench.results.audit import audit_items, load_run_examples, regrade_items
from rmbench.results.files import ITEMS_FILE, RUN_FILE, SUMMARY_FILE, atomic_write_json, read_json
from rmbench.results.run_dir import lock_run_dir


@dataclass(frozen=True)
class ReportResult:
    summary: dict[str, Any]
    n_scored: int
    n_items: int
    regrade_skipped: str | None  # why the metrics were not re-graded (None: they were, and agree)


def check_regrade(run_dir: Path, run: dict[str, Any], items: list[Any], data_dir: Path | None) -> str | None:
    """Re-grade ``items``; raise :class:`UserError` listing disagreements; return why it was skipped, if it was."""
    try:
        examples = load_run_examples(run, data_dir)
    except UserError as exc:
        return f"{exc.message} (pass --data-dir to check them)"
    problems = regrade_items(run, items, examples)
    if problems:
        shown = "; ".join(problems[:3]) + ("; ..." if len(problems) > 3 else "")
        raise UserError(
            f"{run_dir / ITEMS_FILE}: {len(problems)} item(s) do not re-grade to their stored results: {shown}",
            hint="the file was edited; rerun the model in a new --out directory",
        )
    return None


def recompute_report(run_dir: Path, data_dir: Path | None = None, *, n_bootstrap: int | None = None,
                     confidence: float | None = None) -> ReportResult:
    """Audit, re-grade and re-summarise ``run_dir``; writes summary.json and report.md (and run.json when a
    statistics setting changed)."""
    from rmbench.data.sources import resolve_data_dir
    from rmbench.results.summary import build_summary
    from rmbench.runner import write_outputs

    if n_bootstrap is not None and (isinstance(n_bootstrap, bool) or n_bootstrap < 1):
        raise UserError(f"--n-bootstrap {n_bootstrap}: must be at least 1")
    if confidence is not None and not 0 < confidence < 1:
        raise UserError(f"--confidence {confidence}: must be between 0 and 1 (e.g. 0.95)")
    if not (run_dir / RUN_FILE).is_file():
        raise UserError(f"{run_dir}: not a run directory (no {RUN_FILE})")
    with lock_run_dir(run_dir, "rmbench report"):
        run = read_json(run_dir / RUN_FILE)
        items = audit_items(run_dir, run)
        skipped = check_regrade(run_dir, run, items, resolve_data_dir(data_dir))
        wanted = {"n_bootstrap": n_bootstrap, "confidence": confidence}
        changed = {k: v for k, v in wanted.items() if v is not None and run["config"].get(k) != v}
        if changed:
            run["config"].update(changed)
            atomic_write_json(run_dir / RUN_FILE, run)
        old = read_json(run_dir / SUMMARY_FILE) if (run_dir / SUMMARY_FILE).exists() else {}
        summary = build_summary(run, items, old.get("timing") if isinstance(old, dict) else None)
        write_outputs(run_dir, summary)
    return ReportResult(summary, len(items), int(run["data"]["n_items"]), skipped)
