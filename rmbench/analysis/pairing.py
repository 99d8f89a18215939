"""Runs on the same items: load run directories, check they share task and data, align items by id,
and the paired estimates every cross-run command uses (``compare``, ``gate``, ``agree``, ``leaderboard``).

Estimates are returned as plain dicts (``Estimate.to_dict()``). With fewer than 2 items or clusters a
bootstrap interval is undefined: the dict keeps the point value, has ``low``/``high`` = ``None`` and
a ``note`` saying why, instead of raising.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rmbench.datatypes import ItemResult
from rmbench.errors import UserError
from rmbench.results.files import ITEMS_FILE, RUN_FILE, read_json


@dataclass(frozen=True)
class LoadedRun:
    """A run directory: its manifest and its items (by id), as recorded on disk."""

    path: Path
    run: Mapping[str, Any]
    items: Mapping[str, ItemResult]

    @property
    def model_id(self) -> str:
        model = self.run.get("model") or {}
        return str(model.get("id") or self.run.get("config", {}).get("model", "?"))

    @property
    def primary_metric(self) -> str:
        return str(self.run["task"].get("scoring", {}).get("primary_metric", "accuracy"))

    @property
    def seed(self) -> int:
        return int(self.run.get("config", {}).get("seed", 0))

    def describe(self) -> dict[str, Any]:
        """Who produced this run, for JSON outputs."""
        cfg = self.run.get("config", {})
        return {
            "run_dir": str(self.path),
            "model": self.model_id,
            "kind": cfg.get("kind"),
            "seed": cfg.get("seed"),
            "tie_policy": cfg.get("tie_policy"),
            "invalid_policy": cfg.get("invalid_policy"),
            "n_items": len(self.items),
        }


def load_run_dir(path: Path) -> LoadedRun:
    """Read ``run.json`` and ``items.jsonl``; a line with an id, content or identity the run did not
    record is refused (:func:`rmbench.results.audit.audit_items`)."""
    from rmbench.results.audit import audit_items

    if not (path / RUN_FILE).exists():
        raise UserError(f"{path}: not a run directory (no {RUN_FILE})")
    if not (path / ITEMS_FILE).exists():
        raise UserError(f"{path}: run directory has no {ITEMS_FILE} (nothing was scored)")
    run = read_json(path / RUN_FILE)
    items = audit_items(path, run)
    return LoadedRun(path, run, {it.id: it for it in items})


def unique_names(runs: Sequence[LoadedRun]) -> list[str]:
    """Model ids, made unique with the run directory name (e.g. two seeds of one model)."""
    ids = [r.model_id for r in runs]
    dup = {i for i in ids if ids.count(i) > 1}
    return [f"{r.model_id} [{r.path.name}]" if r.model_id in dup else r.model_id for r in runs]


def task_identity(run: Mapping[str, Any]) -> dict[str, Any]:
    """What two runs must share to be compared item by item."""
    data = run.get("data") or {}
    return {
        "task": run["task"]["name"],
        "task version": run["task"]["version"],
        "data fingerprint": run.get("data_fingerprint") or data.get("fingerprint"),
    }


def check_same_data(runs: Sequence[tuple[str, Mapping[str, Any]]], action: str = "compare") -> None:
    """Refuse runs (``(label, run.json)`` pairs) that differ in task, task version or data fingerprint."""
    (first_label, first), *rest = runs
    ref = task_identity(first)
    for label, run in rest:
        ident = task_identity(run)
        diffs = [f"{k}: {ref[k]!r} ({first_label}) vs {ident[k]!r} ({label})" for k in ref if ref[k] != ident[k]]
        if diffs:
            raise UserError(
                f"runs are not on the same items, refusing to {action} them: " + "; ".join(diffs),
                hint="compare runs of the same task version on the same data (same --limit and --subset)",
            )


def require_item_metric(runs: Sequence[LoadedRun], metric: str) -> None:
    """Refuse a metric that no item records (aggregates such as F1 from summed counts, per-cluster
    metrics): those cannot be paired item by item."""
    if any(metric in it.metrics for r in runs for it in r.items.values()):
        return
    per_item = sorted({m for r in runs for it in r.items.values() for m in it.metrics})
    raise UserError(
        f"metric '{metric}' is not recorded per item (it is computed over clusters or from summed counts), "
        "so it cannot be compared item by item",
        hint=f"pass --metric with a per-item metric: {', '.join(per_item) or '(none)'}",
    )


@dataclass(frozen=True)
class Alignment:
    """Ids present in both runs (sorted), and the ids present in only one of them."""

    ids: list[str]
    only_a: list[str]
    only_b: list[str]


def align(a: Mapping[str, ItemResult], b: Mapping[str, ItemResult]) -> Alignment:
    """Match items by id; an id scored on different content in the two runs is refused."""
    common = sorted(set(a) & set(b))
    for i in common:
        if a[i].example_hash != b[i].example_hash:
            raise UserError(f"item '{i}' has different content in the two runs (example_hash differs)")
    return Alignment(common, sorted(set(a) - set(b)), sorted(set(b) - set(a)))


def clusters_if_repeated(clusters: Sequence[str]) -> np.ndarray | None:
    """Cluster labels for a bootstrap when some cluster holds several items, else ``None`` (resample items)."""
    return np.asarray(clusters) if len(set(clusters)) < len(clusters) else None


def safe_estimate(call: Callable[[], Any], value: float, n: int) -> dict[str, Any]:
    """``call().to_dict()`` for a bootstrap call; with fewer than 2 items or clusters the interval
    is undefined: ``value`` is kept, ``low``/``high`` are ``None`` and ``note`` says why."""
    try:
        return dict(call().to_dict())
    except ValueError as exc:
        if "at least 2" not in str(exc):
            raise
        return {"value": value, "low": None, "high": None, "n": n, "note": str(exc)}


def mean_estimate(values: np.ndarray, clusters: Sequence[str], rng: np.random.Generator, *, n_resamples: int,
                  confidence: float) -> dict[str, Any]:
    """Mean with a bootstrap CI (clustered when clusters repeat), as a dict; see :func:`safe_estimate`."""
    from rmbench.stats import mean_ci

    cl = clusters_if_repeated(clusters)
    return safe_estimate(lambda: mean_ci(values, rng, clusters=cl, n_resamples=n_resamples, confidence=confidence),
                         float(values.mean()), len(values))


def paired_diff(a: np.ndarray, b: np.ndarray, clusters: Sequence[str], rng: np.random.Generator, *,
                n_resamples: int, confidence: float) -> dict[str, Any]:
    """``mean(b) - mean(a)`` with a paired-bootstrap CI (clustered when clusters repeat), as a dict."""
    from rmbench.stats import paired_bootstrap_diff

    cl = clusters_if_repeated(clusters)
    return safe_estimate(lambda: paired_bootstrap_diff(a, b, rng, clusters=cl, n_resamples=n_resamples,
                                                       confidence=confidence), float(b.mean() - a.mean()), len(a))
