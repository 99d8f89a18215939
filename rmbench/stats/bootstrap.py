"""Vectorised bootstrap confidence intervals (percentile and BCa).

Statistic protocol
------------------
A statistic is a callable ``statistic(*arrays) -> ndarray of shape (B,)``
whose arguments have a *leading resample axis*: each argument has shape
``(B, m)`` where row ``r`` is the ``r``-th resample of one data array.  The
point estimate is computed by calling it with ``B = 1``.  Resamples are
evaluated in chunks of rows, never with a Python loop per resample.

With ``clusters``, whole clusters are resampled: every data array is first
reduced to per-cluster *totals* (shape ``(G,)``) and the statistic sees
arrays of shape ``(B, G)`` holding the totals of the resampled clusters.  The
item-level mean is then a ratio of sums, ``sum(values) / sum(sizes)`` --
use :data:`ratio_of_sums` with a ones array as denominator (or simply
:func:`mean_ci` / :func:`paired_bootstrap_diff`, which do this for you).

Statistics that depend on the resample only through per-array totals
(:class:`SumStatistic`, e.g. :data:`mean_statistic` and
:data:`ratio_of_sums`) get two extras: a closed-form jackknife for BCa, and
an exact *multinomial* engine.  A bootstrap resample of ``m`` rows drawn
uniformly with replacement contains the ``K`` distinct rows with counts
``~ Multinomial(m, freq / m)``, so for discrete data (binary correctness,
per-prompt (correct, size) pairs) the bootstrap distribution can be drawn
exactly in ``O(B K)`` instead of ``O(B m)``.  ``engine="auto"`` uses it when
``K <= m / 4``; ``engine="index"`` forces index matrices.

References: Efron & Tibshirani (1993), *An Introduction to the Bootstrap*,
ch. 13-14 (percentile, BCa, jackknife acceleration); Davison & Hinkley
(1997), *Bootstrap Methods and their Application*, sec. 3.8 (cluster /
two-stage resampling); Field & Welsh (2007), JRSS-B 69:369-390.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from statistics import NormalDist
from typing import Any

import numpy as np

from rmbench.stats.estimates import Estimate
from rmbench.stats.metrics import _as_1d, _encode, _same_length
from rmbench.stats.resampling import (
    Statistic,
    SumStatistic,
    check_args,
    index_engine,
    jackknife_values,
    mean_statistic,
    multinomial_engine,
    ratio_of_sums,
)

__all__ = [
    "SumStatistic",
    "bootstrap_ci",
    "mean_ci",
    "mean_statistic",
    "paired_bootstrap_diff",
    "ratio_of_sums",
]

def _prepare(data: Any) -> list[np.ndarray]:
    if isinstance(data, np.ndarray):
        seq = [data] if data.ndim == 1 else list(data)
    elif isinstance(data, (list, tuple)) and len(data) > 0 and np.ndim(data[0]) >= 1:
        seq = list(data)
    else:
        seq = [np.asarray(data)]
    if not seq:
        raise ValueError("data is empty")
    out = []
    for i, arr in enumerate(seq):
        a = _as_1d(arr, f"data[{i}]")
        if a.dtype == np.bool_:
            a = a.astype(np.int8)
        elif a.dtype.kind not in "iuf":
            raise ValueError(f"data[{i}] must be numeric or bool, got dtype {a.dtype}")
        elif a.dtype.kind == "f":
            a = a.astype(np.float64)
            if not np.isfinite(a).all():
                raise ValueError(f"data[{i}] contains non-finite values")
        out.append(a)
    _same_length(**{f"data[{i}]": a for i, a in enumerate(out)})
    return out


def _bca_levels(boot: np.ndarray, theta: float, jack: np.ndarray, alpha: float) -> tuple[float, float]:
    """BCa percentile levels (Efron & Tibshirani 1993, eq. 14.9-14.15)."""
    nd = NormalDist()
    b = len(boot)
    # Bias correction; ties with theta count one half (exact for discrete
    # statistics), and the proportion is kept away from 0 and 1.
    prop = (np.sum(boot < theta) + 0.5 * np.sum(boot == theta)) / b
    prop = min(max(prop, 0.5 / b), 1.0 - 0.5 / b)
    z0 = nd.inv_cdf(prop)
    dev = jack.mean() - jack
    denom = 6.0 * np.sum(dev**2) ** 1.5
    accel = float(np.sum(dev**3) / denom) if denom > 0 else 0.0
    levels = []
    for q in (alpha / 2.0, 1.0 - alpha / 2.0):
        zq = z0 + nd.inv_cdf(q)
        shrink = 1.0 - accel * zq
        levels.append(nd.cdf(z0 + zq / shrink) if shrink > 0 else (0.0 if q < 0.5 else 1.0))
    return levels[0], levels[1]


def bootstrap_ci(
    data: Sequence[np.ndarray] | np.ndarray,
    statistic: Statistic,
    rng: np.random.Generator,
    *,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    method: str = "percentile",
    clusters: Any = None,
    engine: str = "auto",
    n_jobs: int = 1,
) -> Estimate:
    """Bootstrap confidence interval for ``statistic`` of paired 1-D arrays.

    All arrays in ``data`` are resampled with the *same* row indices, so
    paired data stay paired.  Percentile interval: the ``alpha/2`` and
    ``1 - alpha/2`` quantiles of the ``B`` bootstrap values.  BCa interval:
    quantiles at ``Phi(z0 + (z0 + z_q) / (1 - a (z0 + z_q)))`` with bias
    correction ``z0 = Phi^-1(#{theta* < theta} / B)`` (ties count 1/2) and
    acceleration ``a = sum d^3 / (6 (sum d^2)^1.5)``, ``d`` the jackknife
    deviations (leave one item out, or one whole cluster out when
    ``clusters`` is given).

    Args:
        data: a 1-D array or a sequence of equal-length 1-D arrays (numeric
            or bool); a 2-D array is read as a sequence of its rows.
        statistic: vectorised callable, see the module docstring.
        rng: the random generator (the only source of randomness).
        n_resamples: number of bootstrap resamples ``B``.
        confidence: nominal coverage, e.g. 0.95.
        method: ``"percentile"`` or ``"bca"``.
        clusters: optional cluster label per item (any hashable, e.g. prompt
            id); whole clusters are resampled.
        engine: ``"auto"``, ``"index"`` or ``"multinomial"`` (exact, only
            for :class:`SumStatistic`).
        n_jobs: worker threads for the index engine; results do not depend
            on it.

    Raises ``ValueError`` for fewer than 2 items (or clusters), mismatched
    lengths, or a statistic that returns non-finite values.

    Reference: Efron & Tibshirani (1993), ch. 13-14.

    >>> rng = np.random.default_rng(0)
    >>> e = bootstrap_ci(np.arange(10.0), mean_statistic, rng, n_resamples=1000)
    >>> e.value, e.low < 4.5 < e.high
    (4.5, True)
    """
    if method not in ("percentile", "bca"):
        raise ValueError(f"method must be 'percentile' or 'bca', got {method!r}")
    n_resamples = check_args(n_resamples, confidence, engine)
    arrays = _prepare(data)
    n_items = len(arrays[0])
    n_clusters = None
    if clusters is not None:
        if statistic is mean_statistic:
            raise ValueError(
                "with clusters the statistic sees per-cluster totals, so mean_statistic "
                "would average cluster totals; use ratio_of_sums(values, ones) or mean_ci"
            )
        (codes,), cats = _encode(clusters, name="clusters")
        _same_length(data=arrays[0], clusters=codes)
        n_clusters = len(cats)
        arrays = [np.bincount(codes, weights=a, minlength=n_clusters) for a in arrays]
    m = len(arrays[0])
    if m < 2:
        unit = "clusters" if clusters is not None else "items"
        raise ValueError(f"the bootstrap needs at least 2 {unit}, got {m}")

    theta = float(np.asarray(statistic(*[a[None, :] for a in arrays])).reshape(-1)[0])
    if not math.isfinite(theta):
        raise ValueError("statistic is not finite on the full data")

    use_multinomial = False
    if isinstance(statistic, SumStatistic) and engine != "index":
        rows, counts = np.unique(np.column_stack(arrays), axis=0, return_counts=True)
        use_multinomial = engine == "multinomial" or len(rows) <= m // 4
    elif engine == "multinomial":
        raise ValueError("engine='multinomial' needs a SumStatistic")
    if use_multinomial:
        assert isinstance(statistic, SumStatistic)
        boot = multinomial_engine(arrays, statistic, rng, n_resamples, rows, counts)
    else:
        jobs = max(1, min(int(n_jobs), os.cpu_count() or 1))
        boot = index_engine(arrays, statistic, rng, n_resamples, jobs)
    bad = int(np.sum(~np.isfinite(boot)))
    if bad:
        raise ValueError(f"statistic returned non-finite values in {bad} of {n_resamples} resamples")

    alpha = 1.0 - confidence
    if method == "percentile":
        levels = (alpha / 2.0, 1.0 - alpha / 2.0)
    else:
        jack = jackknife_values(arrays, statistic)
        if not np.isfinite(jack).all():
            raise ValueError("jackknife values are not finite; BCa unavailable (use 'percentile')")
        levels = _bca_levels(boot, theta, jack, alpha)
    low, high = (float(v) for v in np.quantile(boot, levels))
    return Estimate(
        value=theta,
        low=low,
        high=high,
        n=n_items,
        confidence=confidence,
        method=method,
        n_clusters=n_clusters,
        n_resamples=n_resamples,
    )


def mean_ci(
    values: Any,
    rng: np.random.Generator,
    *,
    clusters: Any = None,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    method: str = "percentile",
    engine: str = "auto",
    n_jobs: int = 1,
) -> Estimate:
    """Bootstrap CI for the mean of ``values`` (e.g. accuracy of 0/1 correctness).

    Without clusters: the mean of resampled items.  With clusters: whole
    clusters are resampled and the estimate is the ratio of sums
    ``sum_g S_g / sum_g N_g`` (``S_g`` total and ``N_g`` size of cluster
    ``g``), so clusters of different sizes are weighted by their size.

    Reference: Efron & Tibshirani (1993), ch. 13; Davison & Hinkley (1997),
    sec. 3.8.

    >>> e = mean_ci([1, 0, 1, 1] * 25, np.random.default_rng(1))
    >>> e.value, e.low < 0.75 < e.high
    (0.75, True)
    """
    arr = _prepare(values)
    if len(arr) != 1:
        raise ValueError("values must be a single 1-D array")
    kw: dict[str, Any] = dict(
        n_resamples=n_resamples, confidence=confidence, method=method, engine=engine, n_jobs=n_jobs
    )
    if clusters is None:
        return bootstrap_ci(arr[0], mean_statistic, rng, **kw)
    ones = np.ones(len(arr[0]), dtype=np.int8)
    return bootstrap_ci((arr[0], ones), ratio_of_sums, rng, clusters=clusters, **kw)


def paired_bootstrap_diff(
    a: Any,
    b: Any,
    rng: np.random.Generator,
    *,
    clusters: Any = None,
    n_resamples: int = 10000,
    confidence: float = 0.95,
    method: str = "percentile",
    engine: str = "auto",
    n_jobs: int = 1,
) -> Estimate:
    """Paired bootstrap CI of ``mean(b) - mean(a)`` on the same items.

    ``a`` is the baseline run and ``b`` the candidate, scored on the same
    items in the same order; ``value = mean(b) - mean(a)`` ("candidate minus
    baseline"), so a positive value means the candidate is better.  Items
    (or whole clusters) are resampled jointly, which keeps the pairing and
    makes the interval narrower than an unpaired one when the runs are
    positively correlated.  This is the bootstrap of the mean of
    ``d_i = b_i - a_i`` (ratio of sums over clusters when clustered).

    Reference: Efron & Tibshirani (1993), ch. 13; Koehn (2004), "Statistical
    significance tests for machine translation evaluation", EMNLP.

    >>> rng = np.random.default_rng(0)
    >>> e = paired_bootstrap_diff([0, 1, 0, 1] * 50, [1, 1, 0, 1] * 50, rng)
    >>> e.value
    0.25
    """
    xa = _prepare(a)
    xb = _prepare(b)
    if len(xa) != 1 or len(xb) != 1:
        raise ValueError("a and b must be single 1-D arrays")
    _same_length(a=xa[0], b=xb[0])
    d = xb[0].astype(np.float64) - xa[0].astype(np.float64)
    if np.all(d == np.round(d)) and np.abs(d).max() < 127:
        d = d.astype(np.int8)  # cheaper gathers for binary / small-integer data
    kw: dict[str, Any] = dict(
        n_resamples=n_resamples, confidence=confidence, method=method, engine=engine, n_jobs=n_jobs
    )
    return mean_ci(d, rng, clusters=clusters, **kw)
