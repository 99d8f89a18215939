"""Derived metrics that are not a plain mean of per-item values, with cluster-bootstrap intervals.

A task declares them under ``scoring.aggregates`` in its YAML, e.g. ProcessBench's F1 (the harmonic
mean of accuracy on erroneous and on correct items) or FELM's segment-level F1 from per-item counts::

    aggregates:
      f1: {kind: harmonic_mean, of: [acc_erroneous, acc_correct]}
      segment_f1: {kind: f1, of: [seg_tp, seg_fp, seg_fn]}
      ties_score: {kind: weighted_sum, of: [tied_acc, ref_acc], weights: [0.5, 0.5]}

``weighted_sum`` is ``sum_k weights[k] * mean(of[k])``, each mean over the items where that metric
is defined; it is undefined when any of its means is (a term with weight 0 included).

Every kind is a function of *sums over items* of per-item quantities (a metric's value and whether
it is defined). The bootstrap therefore resamples clusters, adds up their sums with a weight matrix
(resamples x clusters) and evaluates the statistic on all resamples at once; the interval of F1 is
the bootstrap interval of F1 itself, never combined from the intervals of its parts.

Per-cluster results (:func:`rmbench.grading.core.grade_clusters`, e.g. RewardBench 2 Ties' per-prompt
terms) enter the same sums as items do; they share their cluster's label, so they are resampled with it.
:func:`subset_weighted_mean` (sections with ``scoring.subset_weights``) is a ratio of weighted sums.

One exception: ``auroc`` (of: [a list of step scores, a list of step labels], read from each item's
``scores``/``extra``) is a rank statistic over pooled steps; it is computed and cluster-bootstrapped
by :func:`rmbench.adapters.steps.metrics.items_auroc`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np

from rmbench.datatypes import ItemResult

AggregateKind = Literal[
    "harmonic_mean", "ratio", "f1", "precision", "recall", "balanced_accuracy", "macro_f1", "mean_of", "auroc",
    "weighted_sum", "confusion_macro_f1", "confusion_balanced_accuracy", "confusion_kappa",
]

# kind -> number of metrics in ``of`` (None: any number >= 1)
ARITY: dict[str, int | None] = {
    "harmonic_mean": 2, "ratio": 2, "f1": 3, "precision": 2, "recall": 2, "balanced_accuracy": 4, "mean_of": None,
    "macro_f1": 4, "auroc": 2, "weighted_sum": None,
    **{kind: None for kind in ("confusion_macro_f1", "confusion_balanced_accuracy", "confusion_kappa")},
}
WEIGHTED_KINDS = frozenset({"weighted_sum"})
"""Kinds that take a ``weights`` list (one weight per metric in ``of``); the others refuse one."""


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def _means(sums: np.ndarray, k: int) -> list[np.ndarray]:
    """Column layout: for metric i, sums[..., 2i] = sum of values, sums[..., 2i+1] = count defined."""
    return [_div(sums[..., 2 * i], sums[..., 2 * i + 1]) for i in range(k)]


def _total(sums: np.ndarray, i: int) -> np.ndarray:
    return sums[..., 2 * i]


def _harmonic(sums: np.ndarray) -> np.ndarray:
    a, b = _means(sums, 2)
    return _div(2 * a * b, a + b)


STATISTICS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "harmonic_mean": _harmonic,
    "ratio": lambda s: _div(_total(s, 0), _total(s, 1)),
    "f1": lambda s: _div(2 * _total(s, 0), 2 * _total(s, 0) + _total(s, 1) + _total(s, 2)),
    "precision": lambda s: _div(_total(s, 0), _total(s, 0) + _total(s, 1)),
    "recall": lambda s: _div(_total(s, 0), _total(s, 0) + _total(s, 1)),
    "balanced_accuracy": lambda s: (
        _div(_total(s, 0), _total(s, 0) + _total(s, 1)) + _div(_total(s, 2), _total(s, 2) + _total(s, 3))
    ) / 2,
    # of: [tp, fp, tn, fn]; mean of the positive-class and the negative-class F1 (PRMBench's PRMScore)
    "macro_f1": lambda s: (
        _div(2 * _total(s, 0), 2 * _total(s, 0) + _total(s, 1) + _total(s, 3))
        + _div(2 * _total(s, 2), 2 * _total(s, 2) + _total(s, 3) + _total(s, 1))
    ) / 2,
}


def _confusion(fn_name: str) -> Callable[[np.ndarray], np.ndarray]:
    """A statistic of the confusion matrix whose k x (k + 1) cells are the metrics of ``of``, gold-major
    (claim verification: :mod:`rmbench.stats.confusion`, :mod:`rmbench.adapters.claims.grading`)."""
    from rmbench.stats import confusion

    fn = getattr(confusion, fn_name)
    return lambda s: fn(confusion.from_cell_sums(s[..., 0::2]))


STATISTICS.update({
    "confusion_macro_f1": _confusion("macro_f1"),
    "confusion_balanced_accuracy": _confusion("balanced_accuracy"),
    "confusion_kappa": _confusion("cohen_kappa"),
})


def sum_statistic(kind: str, k: int, weights: Sequence[float] | None = None) -> Callable[[np.ndarray], np.ndarray]:
    if kind == "mean_of":
        return lambda s: np.mean(np.stack(_means(s, k)), axis=0)
    if kind == "weighted_sum":
        w = np.asarray(weights, dtype=float)
        return lambda s: np.tensordot(w, np.stack(_means(s, k)), axes=1)
    return STATISTICS[kind]


def check_weights(kind: str, of: Sequence[str], weights: Sequence[float] | None) -> None:
    """``weights`` must be given (one finite number per metric) for a weighted kind, and only then."""
    if kind in WEIGHTED_KINDS:
        if weights is None or len(weights) != len(of):
            raise ValueError(f"kind '{kind}' takes one weight per metric in 'of' ({len(of)}), got {weights!r}")
        if not all(np.isfinite(w) for w in weights):
            raise ValueError(f"kind '{kind}': weights must be finite numbers, got {list(weights)}")
    elif weights is not None:
        raise ValueError(f"kind '{kind}' takes no weights")


def item_matrix(items: Sequence[ItemResult], metrics: Sequence[str], source: str | None = None) -> np.ndarray:
    """items x (2 * len(metrics)): value (0 when undefined) and a defined flag for each metric."""
    out = np.zeros((len(items), 2 * len(metrics)))
    for r, it in enumerate(items):
        values = it.metrics if source is None else it.baselines.get(source, {})
        for i, m in enumerate(metrics):
            v = values.get(m)
            if v is not None:
                out[r, 2 * i] = float(v)
                out[r, 2 * i + 1] = 1.0
    return out


def cluster_bootstrap_sums(
    rows: np.ndarray, clusters: Sequence[str], rng: np.random.Generator, n_resamples: int, chunk: int = 256
) -> np.ndarray:
    """Resampled column sums: (n_resamples x columns), resampling whole clusters with replacement."""
    from rmbench.stats.stratified import cluster_counts

    per_cluster, _ = cluster_totals(rows, clusters)
    return np.vstack([c @ per_cluster for c in cluster_counts(len(per_cluster), rng, n_resamples, chunk)])


def cluster_totals(rows: np.ndarray, clusters: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(clusters x columns) column sums per cluster (clusters in sorted label order), and each row's cluster code."""
    _, codes = np.unique(np.asarray(clusters), return_inverse=True)
    per_cluster = np.zeros((int(codes.max()) + 1, rows.shape[1]))
    np.add.at(per_cluster, codes, rows)
    return per_cluster, codes


def aggregate(
    items: Sequence[ItemResult],
    kind: str,
    of: Sequence[str],
    rng: np.random.Generator,
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    source: str | None = None,
    weights: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Point value and percentile cluster-bootstrap interval of one derived metric.

    ``weights``: one per metric of ``of``, for ``weighted_sum`` only.
    """
    if kind not in ARITY:
        raise ValueError(f"unknown aggregate kind '{kind}'")
    arity = ARITY[kind]
    if (arity is not None and len(of) != arity) or not of:
        raise ValueError(f"aggregate '{kind}' takes {arity or 'one or more'} metrics, got {len(of)}")
    check_weights(kind, of, weights)
    if not items:
        return {"value": None, "low": None, "high": None, "n": 0, "method": "percentile"}
    if kind == "auroc":  # a rank statistic over pooled steps, not a function of per-item sums
        from rmbench.adapters.steps.metrics import items_auroc

        return items_auroc(items, of, rng, n_resamples=n_resamples, confidence=confidence)
    stat = sum_statistic(kind, len(of), weights)
    rows = item_matrix(items, of, source)
    value = float(stat(rows.sum(axis=0)))
    clusters = [it.cluster for it in items]
    if len(set(clusters)) < 2:  # every resample would be the data itself: no interval, not a zero-width one
        return {"value": value if np.isfinite(value) else None, "low": None, "high": None, "n": len(items),
                "n_clusters": len(set(clusters)), "kind": kind, "of": list(of),
                "note": "a bootstrap interval needs at least 2 clusters",
                **({"weights": [float(w) for w in weights]} if weights is not None else {})}
    resampled = stat(cluster_bootstrap_sums(rows, clusters, rng, n_resamples))
    finite = resampled[np.isfinite(resampled)]
    alpha = (1 - confidence) / 2
    low, high = (float(np.quantile(finite, alpha)), float(np.quantile(finite, 1 - alpha))) if finite.size else (None, None)
    return {
        "value": value if np.isfinite(value) else None,
        "low": low,
        "high": high,
        "n": len(items),
        "n_clusters": len(set(clusters)),
        "confidence": confidence,
        "method": "percentile",
        "undefined_resamples": int(resampled.size - finite.size),
        "kind": kind,
        "of": list(of),
        **({"weights": [float(w) for w in weights]} if weights is not None else {}),
    }


def subset_weighted_mean(
    items: Sequence[ItemResult],
    metric: str,
    weights: Mapping[str, float],
    rng: np.random.Generator,
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    source: str | None = None,
) -> dict[str, Any]:
    """Weighted mean of subset means of ``metric``, with a percentile cluster-bootstrap interval.

    ``value = sum_s w_s * mean_s / sum_s w_s`` over the subsets where ``metric`` is defined on some
    item (upstream RewardBench's ``calculate_scores_per_section`` with ``EXAMPLE_COUNTS`` as ``w``).
    It is computed as a ratio of weighted sums: item ``i`` of subset ``s`` gets weight
    ``w_s / n_s`` (``n_s``: items of ``s`` where the metric is defined, fixed at the observed counts),
    and ``value = sum_i w_i x_i / sum_i w_i``; resampled clusters give the interval of that ratio.
    ``source`` picks a baseline's metrics.
    """
    defined = item_matrix(items, [metric], source)
    counts: dict[str, int] = {}
    for it, row in zip(items, defined, strict=True):
        counts[it.subset] = counts.get(it.subset, 0) + int(row[1])
    missing = sorted({it.subset for it in items} - set(weights))
    if missing:
        raise ValueError(f"no subset weight for {', '.join(missing)}")
    w = np.array([weights[it.subset] / counts[it.subset] if counts[it.subset] else 0.0 for it in items])
    rows = defined * w[:, None]  # [w_i x_i, w_i d_i]
    empty = {"value": None, "low": None, "high": None, "n": 0, "method": "percentile"}
    if not items or rows[:, 1].sum() <= 0:
        return empty
    value = float(rows[:, 0].sum() / rows[:, 1].sum())
    clusters = [it.cluster for it in items]
    resampled_sums = cluster_bootstrap_sums(rows, clusters, rng, n_resamples)
    resampled = _div(resampled_sums[:, 0], resampled_sums[:, 1])
    finite = resampled[np.isfinite(resampled)]
    alpha = (1 - confidence) / 2
    low, high = (float(np.quantile(finite, alpha)), float(np.quantile(finite, 1 - alpha))) if finite.size else (None, None)
    return {
        "value": value,
        "low": low,
        "high": high,
        "n": int(defined[:, 1].sum()),
        "n_clusters": len(set(clusters)),
        "confidence": confidence,
        "method": "percentile",
        "undefined_resamples": int(resampled.size - finite.size),
        "subset_weights": {s: float(weights[s]) for s in counts if counts[s]},
    }
