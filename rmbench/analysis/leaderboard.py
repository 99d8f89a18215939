"""Leaderboard files (schema ``rmbench.leaderboard/1``, documented in ``docs/leaderboard.md``).

* :func:`build_leaderboard` collects runs of one task version on one data fingerprint. Every number
  is computed from the run's ``run.json`` and ``items.jsonl`` with
  :func:`rmbench.results.summary.compute_results` (the function that writes ``summary.json``), and each entry
  records the sha256 of both files.
* Entries are sorted by the primary metric. Ranks are honest about noise: every pair of entries is
  compared with a paired bootstrap of the primary-metric difference on their common items; two
  entries whose interval contains 0 are *statistically tied*. An entry's ``rank_range`` runs from
  1 + (number of entries significantly better) to (number of entries) - (number significantly worse).
* :func:`verify_leaderboard` recomputes everything from the run directories and returns every
  mismatch, naming the entry and the field.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rmbench import __version__
from rmbench.analysis.entry_details import comparable, entry_details
from rmbench.analysis.pairing import (
    LoadedRun,
    check_same_data,
    load_run_dir,
    paired_diff,
    task_identity,
    unique_names,
)
from rmbench.errors import UserError
from rmbench.reports.numbers import fmt_interval
from rmbench.results.files import ITEMS_FILE, RUN_FILE, read_json
from rmbench.results.schema import LEADERBOARD_SCHEMA, check_leaderboard
from rmbench.stats.seeds import derived_rng

_EST_KEYS = ("value", "low", "high", "n")


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _trim(block: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "n_items": block["n_items"],
        "metrics": {m: {k: est.get(k) for k in _EST_KEYS} for m, est in block["metrics"].items()},
    }


def entry_numbers(run: LoadedRun) -> dict[str, Any]:
    """The recomputable part of an entry: model, config, per-subset and overall scores with CIs and n."""
    from rmbench.results.summary import compute_results

    res = compute_results(run.run, list(run.items.values()))
    cfg = run.run["config"]
    return {
        "model": {"id": run.model_id, "kind": cfg.get("kind")},
        "complete": len(run.items) >= int(run.run["data"]["n_items"]),
        "config": {k: cfg.get(k) for k in ("seed", "tie_policy", "invalid_policy", "n_bootstrap", "confidence")},
        "overall": _trim(res["overall"]),
        "subsets": {s: _trim(b) for s, b in res["subsets"].items()},
        "manifest": {
            "run_json_sha256": sha256_file(run.path / RUN_FILE),
            "items_jsonl_sha256": sha256_file(run.path / ITEMS_FILE),
        },
        **entry_details(run.run, res),  # sections, length baseline, model hashes (the page shows them)
    }


def ranking_method(runs: Sequence[LoadedRun], metric: str) -> str:
    """``paired-bootstrap`` when the metric is recorded per item, else ``ci-overlap`` (aggregates such as F1)."""
    return "paired-bootstrap" if any(metric in it.metrics for r in runs for it in r.items.values()) else "ci-overlap"


def _paired_gap(rx: LoadedRun, ry: LoadedRun, metric: str, rng: np.random.Generator, n_resamples: int,
                confidence: float) -> tuple[float | None, float | None]:
    """CI of ``x - y`` on the items both runs scored with a defined metric (``None`` bounds: too few)."""
    ids = sorted(i for i in set(rx.items) & set(ry.items)
                 if rx.items[i].metrics.get(metric) is not None and ry.items[i].metrics.get(metric) is not None)
    if len(ids) < 2:
        return None, None
    a = np.array([float(ry.items[i].metrics[metric]) for i in ids])  # type: ignore[arg-type]
    b = np.array([float(rx.items[i].metrics[metric]) for i in ids])  # type: ignore[arg-type]
    est = paired_diff(a, b, [rx.items[i].cluster for i in ids], rng, n_resamples=n_resamples, confidence=confidence)
    return est["low"], est["high"]


def rank_entries(runs: Sequence[LoadedRun], names: Sequence[str], headline: Mapping[str, Mapping[str, Any]],
                 metric: str, *, method: str, seed: int, n_resamples: int, confidence: float
                 ) -> dict[str, dict[str, Any]]:
    """``{name: {"rank", "rank_range", "tied_with"}}`` (module docstring).

    ``headline[name]`` is the entry's overall estimate of ``metric``; ``rank`` is the position after
    sorting by it (descending, then by name). ``method`` ``paired-bootstrap``: x is significantly
    better than y when the paired CI of ``x - y`` lies above 0; ``ci-overlap`` (metrics not recorded
    per item): when x's interval lies entirely above y's.
    """
    def value(n: str) -> float:
        v = headline[n].get("value")
        return -math.inf if v is None else float(v)

    order = sorted(names, key=lambda n: (-value(n), n))
    better: dict[str, set[str]] = {n: set() for n in names}  # better[x] = entries significantly better than x
    worse: dict[str, set[str]] = {n: set() for n in names}
    by_name = dict(zip(names, runs, strict=True))
    for x_i, x in enumerate(order):
        for y in order[x_i + 1:]:
            if method == "paired-bootstrap":
                low, high = _paired_gap(by_name[x], by_name[y], metric, derived_rng([seed], "leaderboard", x, y),
                                        n_resamples, confidence)
            else:
                ex, ey = headline[x], headline[y]
                ok = None not in (ex.get("low"), ex.get("high"), ey.get("low"), ey.get("high"))
                low = ex["low"] - ey["high"] if ok else None
                high = ex["high"] - ey["low"] if ok else None
            if low is not None and low > 0:
                better[y].add(x)
                worse[x].add(y)
            elif high is not None and high < 0:
                better[x].add(y)
                worse[y].add(x)
    k = len(names)
    return {
        n: {"rank": order.index(n) + 1, "rank_range": [1 + len(better[n]), k - len(worse[n])],
            "tied_with": [m for m in order if m != n and m not in better[n] and m not in worse[n]]}
        for n in names
    }


def build_leaderboard(run_dirs: Sequence[Path], *, runs_root: Path | None = None, seed: int = 0,
                      n_resamples: int = 10000, confidence: float = 0.95) -> dict[str, Any]:
    """A ``rmbench.leaderboard/1`` document from run directories of one task version and data fingerprint."""
    run_dirs = expand_run_dirs(run_dirs)
    runs = [load_run_dir(Path(d)) for d in run_dirs]
    if len({r.path.resolve() for r in runs}) < len(runs):
        raise UserError("the same run directory was given twice")
    check_same_data([(str(r.path), r.run) for r in runs], action="mix")
    names = unique_names(runs)
    first = runs[0].run
    metric = first["task"].get("scoring", {}).get("primary_metric", "accuracy")
    numbers = {name: entry_numbers(run) for name, run in zip(names, runs, strict=True)}
    method = ranking_method(runs, metric)
    ranks = rank_entries(runs, names, _headlines(numbers, metric), metric, method=method, seed=seed,
                         n_resamples=n_resamples, confidence=confidence)
    entries = [{"name": name, **ranks[name], "run_dir": _relative(run.path, runs_root), **numbers[name]}
               for name, run in zip(names, runs, strict=True)]
    entries.sort(key=lambda e: e["rank"])
    doc = {
        "schema": LEADERBOARD_SCHEMA,
        "generated_by": f"rmbench {__version__}",
        "task": {"name": first["task"]["name"], "version": first["task"]["version"],
                 "example_kind": first["task"].get("example_kind"), "primary_metric": metric,
                 "subsets": list(first["data"].get("subsets") or [])},
        "data_fingerprint": first.get("data_fingerprint") or first["data"]["fingerprint"],
        "ranking": {"method": method, "metric": metric, "seed": seed, "n_resamples": n_resamples,
                    "confidence": confidence},
        "entries": entries,
    }
    check_leaderboard(doc)
    return doc


def expand_run_dirs(paths: Sequence[Path]) -> list[Path]:
    """Run directories from the command line: a run directory (it holds ``run.json``) as it is, and a
    folder of runs (``runs/llmbar`` in the default ``runs/<task>/<run>`` layout, or ``runs``) as every run
    directory below it, in sorted order. A path that is neither is an error naming it."""
    if not paths:
        raise UserError("leaderboard build needs at least one run directory")
    out: list[Path] = []
    for path in map(Path, paths):
        if (path / RUN_FILE).is_file():
            out.append(path)
            continue
        found = sorted(p.parent for p in path.rglob(RUN_FILE)) if path.is_dir() else []
        if not found:
            raise UserError(f"{path}: neither a run directory nor a folder of runs (no {RUN_FILE} found)")
        out += found
    return out


def resolve_run_dir(recorded: str, runs_root: Path | None, leaderboard_file: Path | None) -> Path:
    """Where a recorded ``run_dir`` is: against ``runs_root`` when given; else as recorded (relative to the
    current folder, where ``leaderboard build`` ran), falling back to the leaderboard file's folder and its
    parent (``leaderboards/x.json`` beside ``runs/``)."""
    run_dir = Path(recorded)
    if run_dir.is_absolute():
        return run_dir
    if runs_root is not None:
        return runs_root / run_dir
    candidates = [run_dir]
    if leaderboard_file is not None:
        here = leaderboard_file.resolve().parent
        candidates += [here / run_dir, here.parent / run_dir]
    return next((c for c in candidates if (c / RUN_FILE).exists()), run_dir)


def default_output_path(doc: Mapping[str, Any]) -> Path:
    """``leaderboards/<task>.json``; the task name comes from the runs' ``run.json`` files, which anyone
    can edit, so it is checked to be a safe name (no ``..``, no separators) before it becomes a path."""
    from rmbench.names import check_name

    return Path("leaderboards") / f"{check_name(str(doc['task']['name']), 'task name (from run.json)')}.json"


def _headlines(numbers: Mapping[str, Mapping[str, Any]], metric: str) -> dict[str, Mapping[str, Any]]:
    return {n: e["overall"]["metrics"].get(metric) or {} for n, e in numbers.items()}


def _relative(path: Path, root: Path | None) -> str:
    if root is None:
        return path.as_posix()
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise UserError(f"{path} is not under --runs-root {root}") from None


# ------------------------------------------------------------------------------------ verify


@dataclass(frozen=True)
class Mismatch:
    """One field of one entry that the run files do not reproduce."""

    entry: str
    field: str
    recorded: Any
    recomputed: Any

    def __str__(self) -> str:
        return f"entry '{self.entry}', field '{self.field}': recorded {self.recorded!r}, recomputed {self.recomputed!r}"


def _diff(recorded: Any, fresh: Any, path: str, out: list[tuple[str, Any, Any]]) -> None:
    if isinstance(fresh, Mapping) and isinstance(recorded, Mapping):
        for key in sorted(set(fresh) | set(recorded)):
            _diff(recorded.get(key), fresh.get(key), f"{path}.{key}" if path else str(key), out)
    elif isinstance(fresh, float) and isinstance(recorded, (int, float)) and not isinstance(recorded, bool):
        if not math.isclose(recorded, fresh, rel_tol=1e-9, abs_tol=1e-12):
            out.append((path, recorded, fresh))
    elif recorded != fresh:
        out.append((path, recorded, fresh))


def load_leaderboard(path: Path) -> dict[str, Any]:
    doc = read_json(path)
    if not isinstance(doc, dict) or doc.get("schema") != LEADERBOARD_SCHEMA:
        raise UserError(f"{path}: not a leaderboard file (expected schema '{LEADERBOARD_SCHEMA}')")
    check_leaderboard(doc, str(path))
    return doc


def _audit(name: str, run_dir: Path, data_dir: Path | None) -> tuple[LoadedRun | None, list[Mismatch]]:
    """Load a run (ids, content and identity audited) and re-grade its items from their raw scores."""
    from rmbench.results.audit import load_run_examples, regrade_items

    try:
        run = load_run_dir(run_dir)
    except UserError as exc:
        return None, [Mismatch(name, "items", "valid run files", str(exc))]
    try:
        examples = load_run_examples(run.run, data_dir)
    except UserError as exc:
        return run, [Mismatch(name, "items", "re-graded", f"cannot re-grade: {exc.message} (pass --data-dir)")]
    problems = regrade_items(run.run, list(run.items.values()), examples)
    return run, [Mismatch(name, "items", "stored results", p) for p in problems]


def verify_leaderboard(doc: Mapping[str, Any], runs_root: Path | None = None,
                       data_dir: Path | None = None, leaderboard_file: Path | None = None) -> list[Mismatch]:
    """Recompute every entry from its run directory (resolved against ``runs_root`` when given), after
    auditing its items and grading them again from their raw scores (data from ``data_dir``, else the
    folder each run read)."""
    out: list[Mismatch] = []
    runs: list[LoadedRun] = []
    names: list[str] = []
    numbers: dict[str, dict[str, Any]] = {}
    expected = {"task": doc["task"]["name"], "task version": doc["task"]["version"],
                "data fingerprint": doc["data_fingerprint"]}
    for entry in doc["entries"]:
        name = entry.get("name", "?")
        run_dir = resolve_run_dir(entry["run_dir"], runs_root, leaderboard_file)
        if not (run_dir / RUN_FILE).exists() or not (run_dir / ITEMS_FILE).exists():
            out.append(Mismatch(name, "run_dir", str(run_dir), "not found (need run.json and items.jsonl)"))
            continue
        loaded, problems = _audit(name, run_dir, data_dir)
        out += problems
        if loaded is None:
            continue
        run = loaded
        got = task_identity(run.run)
        out += [Mismatch(name, k, expected[k], got[k]) for k in expected if expected[k] != got[k]]
        diffs: list[tuple[str, Any, Any]] = []
        fresh = entry_numbers(run)
        fresh = comparable(entry, fresh)  # a file from before the optional fields: checked without them
        _diff({k: entry.get(k) for k in fresh}, fresh, "", diffs)
        out += [Mismatch(name, f, r, c) for f, r, c in diffs]
        runs.append(run)
        names.append(name)
        numbers[name] = fresh
    if runs and len(runs) == len(doc["entries"]):  # ranks are only comparable when every run was found
        rk = doc.get("ranking", {})
        metric = rk.get("metric", doc["task"]["primary_metric"])
        method = ranking_method(runs, metric)
        if rk.get("method") != method:
            out.append(Mismatch("(ranking)", "ranking.method", rk.get("method"), method))
        fresh_ranks = rank_entries(runs, names, _headlines(numbers, metric), metric, method=method,
                                   seed=int(rk.get("seed", 0)), n_resamples=int(rk.get("n_resamples", 10000)),
                                   confidence=float(rk.get("confidence", 0.95)))
        for entry in doc["entries"]:
            diffs = []
            _diff({k: entry.get(k) for k in ("rank", "rank_range", "tied_with")}, fresh_ranks[entry["name"]], "", diffs)
            out += [Mismatch(entry["name"], f, r, c) for f, r, c in diffs]
    return out


def write_leaderboard(doc: Mapping[str, Any], path: Path) -> None:
    from rmbench.results.files import atomic_write_text

    atomic_write_text(path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def render_summary_table(doc: Mapping[str, Any]) -> Any:
    """A rich table of the entries (terminal view)."""
    from rich.markup import escape
    from rich.table import Table

    metric = doc["task"]["primary_metric"]
    t = Table(title=f"{doc['task']['name']} v{doc['task']['version']} leaderboard ({metric}, points)")
    for h in ("rank", "range", "model", "kind", metric, "n", "tied with"):
        t.add_column(h, justify="right" if h in ("rank", "n") else "left")
    for e in doc["entries"]:
        lo, hi = e["rank_range"]
        t.add_row(str(e["rank"]), f"{lo}-{hi}" if lo != hi else str(lo), escape(e["name"]),
                  escape(str(e["model"]["kind"])), fmt_interval(e["overall"]["metrics"].get(metric)),
                  str(e["overall"]["n_items"]), escape(", ".join(e["tied_with"])) or "—")
    return t
