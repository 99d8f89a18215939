"""Sections that are an unweighted mean of subset values, with stratified cluster-bootstrap intervals.

A task with ``section_weighting: subsets`` reports each section as the mean of its subsets' values
(LlmBar's "Adversarial", ProcessBench's "average" F1), and with ``subset_metrics`` a section
``score`` that averages each subset's own headline metric (RewardBench 2's "Overall": accuracy for
five subsets, ``ties_score`` for Ties). The interval comes from joint resamples in which each subset
is resampled within itself, clusters whole (:func:`rmbench.stats.stratified.stratified_bootstrap`).

Determinism: the generator of a subset is seeded from the run seed, a *content key* of the subset's
items (:func:`content_key`: their ids) and the statistic's name, never from a label, so the same
items with the same statistic get the same resamples wherever they appear. A mean over a single
subset *is* that subset's statistic, so it reuses the subset's own estimate unchanged.

A subset without a value (the metric is defined on none of its items) is left out and named in
``missing``; subsets with fewer than :data:`MIN_CLUSTERS` clusters are named in ``few_clusters``
(their part of the interval is too narrow, or fixed with a single cluster).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rmbench.datatypes import ItemResult
from rmbench.results.aggregates import cluster_totals, item_matrix, sum_statistic
from rmbench.stats.seeds import derived_rng

MIN_CLUSTERS = 5
"""Below this many clusters a bootstrap interval is reported with a warning (unreliably narrow)."""


def content_key(items: Sequence[ItemResult]) -> str:
    """A key of an item set that does not depend on order or on where the set is shown: its sorted ids.

    >>> from rmbench.datatypes import ItemResult
    >>> a = [ItemResult(id=i, subset="s", cluster=i, example_hash="", metrics={}, scores={}) for i in ("x", "y")]
    >>> content_key(a) == content_key(a[::-1])
    True
    """
    return hashlib.sha256("\n".join(sorted(it.id for it in items)).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Stratum:
    """One subset's statistic: its value on the data, its number of clusters, and the statistic as a
    function of cluster counts (resamples x clusters) for the joint bootstrap."""

    value: float | None
    n_clusters: int
    of_counts: Callable[[np.ndarray], np.ndarray]


def stratum(
    items: Sequence[ItemResult], per_cluster: Sequence[ItemResult], name: str,
    aggregates: Mapping[str, Any], source: str | None = None,
) -> Stratum:
    """The statistic ``name`` of one subset: a derived metric of ``aggregates``, else the mean of a
    per-item metric (over the items where it is defined, clusters resampled whole, as
    :func:`rmbench.results.summary.aggregate_metric`), else of a per-cluster metric (``per_cluster``)."""
    if name in aggregates:
        spec = aggregates[name]
        return _sum_stratum([*items, *per_cluster], spec["kind"], spec["of"], spec.get("weights"), source)
    units = items if any(_metrics(it, source).get(name) is not None for it in items) else per_cluster
    defined = [it for it in units if _metrics(it, source).get(name) is not None]
    return _sum_stratum(defined, "mean_of", [name], None, source)


def _metrics(it: ItemResult, source: str | None) -> Mapping[str, Any]:
    return it.metrics if source is None else it.baselines.get(source, {})


def _sum_stratum(
    units: Sequence[ItemResult], kind: str, of: Sequence[str], weights: Sequence[float] | None, source: str | None,
) -> Stratum:
    if not units:
        return Stratum(None, 0, lambda c: np.full(len(c), np.nan))
    clusters = [it.cluster for it in units]
    if kind == "auroc":
        from rmbench.adapters.steps.metrics import auroc_of_cluster_counts, pooled_steps

        value, _, of_counts = auroc_of_cluster_counts(*pooled_steps(units, of))
        return Stratum(value if math.isfinite(value) else None, len(set(clusters)), _on_all(of_counts, units, of))
    stat = sum_statistic(kind, len(of), weights)
    rows = item_matrix(units, of, source)
    totals, _ = cluster_totals(rows, clusters)
    value = float(stat(rows.sum(axis=0)))
    return Stratum(value if math.isfinite(value) else None, len(totals), lambda c: stat(c @ totals))


def _on_all(
    of_counts: Callable[[np.ndarray], np.ndarray], units: Sequence[ItemResult], of: Sequence[str]
) -> Callable[[np.ndarray], np.ndarray]:
    """AUROC counts are over the clusters that have labelled steps; map counts over all clusters to them."""
    from rmbench.adapters.steps.metrics import pooled_steps

    every = np.unique(np.asarray([it.cluster for it in units]))
    with_steps = np.unique(np.asarray(pooled_steps(units, of)[2] or [""]))
    keep = np.searchsorted(every, with_steps)
    return lambda counts: of_counts(counts[:, keep])


def mean_of_subsets(
    strata: Mapping[str, Stratum], rngs: Mapping[str, np.random.Generator], *, n_resamples: int, confidence: float,
) -> dict[str, Any]:
    """Unweighted mean of the subsets' values, with a stratified cluster-bootstrap interval.

    ``value = mean_s value_s`` over the subsets with a value; resample ``r`` takes each of those
    subsets' statistic on its own resample ``r`` (drawn from ``rngs[s]``) and averages them.
    """
    from rmbench.stats.stratified import stratified_bootstrap

    kept = {s: st for s, st in strata.items() if st.value is not None}
    out: dict[str, Any] = {
        "value": float(np.mean([st.value for st in kept.values()])) if kept else None,
        "low": None, "high": None,
        "n_subsets": len(kept),
        "n_clusters": sum(st.n_clusters for st in kept.values()),
        "missing": [s for s in strata if s not in kept],
        "few_clusters": [s for s, st in kept.items() if st.n_clusters < MIN_CLUSTERS],
        "confidence": confidence,
        "method": "stratified percentile",
    }
    if not kept or all(st.n_clusters < 2 for st in kept.values()):
        return {**out, "note": "a bootstrap interval needs at least 2 clusters"} if kept else out
    ci = stratified_bootstrap(
        [st.of_counts for st in kept.values()], [st.n_clusters for st in kept.values()],
        [rngs[s] for s in kept], n_resamples=n_resamples, confidence=confidence,
    )
    return {**out, **ci}


def subsets_section(
    present: Sequence[str], by_subset: Mapping[str, Sequence[ItemResult]],
    per_cluster: Mapping[str, Sequence[ItemResult]], subset_blocks: Mapping[str, Any],
    names: Sequence[str], baselines: Sequence[str], kw: Mapping[str, Any],
    subset_metrics: Mapping[str, str] | None = None, primary: str = "accuracy",
) -> dict[str, Any]:
    """The block of a section that is a mean of subsets: every metric (and baseline metric) with an
    interval, and with ``subset_metrics`` the ``score`` (each subset's own metric, else ``primary``)."""
    aggregates = kw.get("aggregates") or {}

    def estimate(of: Mapping[str, str], source: str | None = None) -> dict[str, Any]:
        strata = {s: stratum(by_subset[s], per_cluster[s], m, aggregates, source) for s, m in of.items()}
        defined = [s for s, st in strata.items() if st.value is not None]
        if len(defined) == 1:  # the mean of one subset is that subset's statistic: reuse its estimate
            s = defined[0]
            own = subset_blocks[s]["baselines"][source] if source else subset_blocks[s]["metrics"]
            return {**own[of[s]], "n_subsets": 1, "missing": [x for x in of if x != s]}
        rngs = {s: derived_rng(kw["seed"], content_key(by_subset[s]), m, source or "") for s, m in of.items()}
        return mean_of_subsets(strata, rngs, n_resamples=kw["n_resamples"], confidence=kw["confidence"])

    block: dict[str, Any] = {
        "subsets": list(present), "weighting": "subsets",
        "metrics": {m: estimate(dict.fromkeys(present, m)) for m in names},
    }
    item_metrics = [m for m in names if any(m in it.metrics for s in present for it in by_subset[s])]
    if baselines:
        block["baselines"] = {b: {m: estimate(dict.fromkeys(present, m), b) for m in item_metrics} for b in baselines}
    if subset_metrics:
        of = {s: subset_metrics.get(s, primary) for s in present}
        block["score"] = {**estimate(of), "of": of}
    return block
