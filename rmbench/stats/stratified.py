"""Stratified cluster bootstrap: every stratum resampled within itself, all strata jointly.

A number that combines several strata, e.g. the unweighted mean of per-subset accuracies
(LlmBar's "Adversarial", ProcessBench's "average F1", RewardBench 2's "Overall"), gets its interval
from *joint* resamples. Resample ``r`` draws, independently in each stratum ``s``, ``G_s`` clusters
with replacement from that stratum's ``G_s`` clusters (a cluster: all items built from one prompt);
each stratum's statistic is evaluated on its part of the resample, and the combined statistic on
those values. The strata keep their sizes, as they are fixed by the benchmark's design; only the
sampling of clusters inside each stratum is random (Davison & Hinkley 1997, sec. 3.7-3.8: the
stratified and the two-stage bootstrap).

A stratum's statistic is a function of *cluster counts*: an integer matrix (resamples x clusters)
saying how often each cluster was drawn. A mean of per-item values is then
``counts @ cluster_totals / counts @ cluster_sizes``; a rank statistic (AUROC) weighs each item by
its cluster's count. :func:`cluster_counts` draws the counts; :func:`stratified_bootstrap`
evaluates the strata chunk by chunk and combines them.

Reference: Davison & Hinkley (1997), *Bootstrap Methods and their Application*, sec. 3.7 (stratified
resampling) and 3.8 (clustered data); Efron & Tibshirani (1993), ch. 13 (percentile interval).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

__all__ = ["cluster_counts", "percentile_interval", "stratified_bootstrap"]

CHUNK = 256
"""Resamples drawn at a time; the draws do not depend on it beyond the order they are made in."""


def cluster_counts(
    n_clusters: int, rng: np.random.Generator, n_resamples: int, chunk: int = CHUNK
) -> Iterator[np.ndarray]:
    """Chunks of cluster counts, shape ``(m, n_clusters)`` with ``m <= chunk``, ``n_resamples`` rows in all.

    Row ``r`` counts how often each cluster was drawn in ``n_clusters`` draws with replacement
    (``Multinomial(n_clusters, 1/n_clusters)``), made as ``rng.integers(0, n_clusters, (m, n_clusters))``.

    >>> c = np.vstack(list(cluster_counts(3, np.random.default_rng(0), 5)))
    >>> c.shape, bool((c.sum(axis=1) == 3).all())
    ((5, 3), True)
    """
    if n_clusters < 1:
        raise ValueError(f"n_clusters must be >= 1, got {n_clusters}")
    for start in range(0, n_resamples, chunk):
        m = min(chunk, n_resamples - start)
        draws = rng.integers(0, n_clusters, size=(m, n_clusters))
        offsets = (np.arange(m) * n_clusters)[:, None]
        yield np.bincount((draws + offsets).ravel(), minlength=m * n_clusters).reshape(m, n_clusters)


def percentile_interval(resampled: np.ndarray, confidence: float) -> tuple[float | None, float | None, int]:
    """``(low, high, undefined)``: the percentile interval of the finite resampled values and how
    many values were not finite (left out). ``(None, None, n)`` when none is finite.

    >>> percentile_interval(np.array([1.0, 2.0, 3.0, np.nan]), 0.5)
    (1.5, 2.5, 1)
    """
    finite = resampled[np.isfinite(resampled)]
    alpha = (1.0 - confidence) / 2.0
    undefined = int(resampled.size - finite.size)
    if not finite.size:
        return None, None, undefined
    return float(np.quantile(finite, alpha)), float(np.quantile(finite, 1.0 - alpha)), undefined


def stratified_bootstrap(
    strata: Sequence[Callable[[np.ndarray], np.ndarray]],
    n_clusters: Sequence[int],
    rngs: Sequence[np.random.Generator],
    *,
    combine: Callable[[np.ndarray], np.ndarray] | None = None,
    n_resamples: int = 2000,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Percentile interval of ``combine(stratum statistics)`` over joint stratified cluster resamples.

    Args:
        strata: per stratum, its statistic of cluster counts: ``(m, G_s) -> (m,)``, NaN where undefined.
        n_clusters: ``G_s`` per stratum.
        rngs: one generator per stratum (its only source of randomness), so a stratum's resamples
            depend on its own generator only.
        combine: ``(m, k) -> (m,)`` over the ``k`` strata statistics; default the unweighted mean.
        n_resamples, confidence: ``B`` and the nominal coverage.

    Returns ``{"low", "high", "undefined_resamples", "n_resamples", "confidence", "method"}``; a resample
    where the combined value is not finite is left out of the quantiles and counted.

    >>> ones = lambda c: c @ np.array([1.0, 1.0]) / c.sum(axis=1)  # every item scores 1
    >>> stratified_bootstrap([ones, ones], [2, 2], [np.random.default_rng(0), np.random.default_rng(1)],
    ...                      n_resamples=50)["low"]
    1.0
    """
    if not (len(strata) == len(n_clusters) == len(rngs)) or not strata:
        raise ValueError("strata, n_clusters and rngs must be non-empty and of the same length")
    if isinstance(n_resamples, bool) or int(n_resamples) != n_resamples or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    combine = combine or (lambda v: np.mean(v, axis=1))
    per_stratum = np.empty((n_resamples, len(strata)))
    for k, (stat, g, rng) in enumerate(zip(strata, n_clusters, rngs, strict=True)):
        start = 0
        for counts in cluster_counts(int(g), rng, n_resamples):
            per_stratum[start : start + len(counts), k] = stat(counts)
            start += len(counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        resampled = np.asarray(combine(per_stratum), dtype=float)
    low, high, undefined = percentile_interval(resampled, confidence)
    return {
        "low": low,
        "high": high,
        "undefined_resamples": undefined,
        "n_resamples": int(n_resamples),
        "confidence": confidence,
        "method": "stratified percentile",
    }
