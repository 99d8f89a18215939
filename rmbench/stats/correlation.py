"""Rank correlations: Spearman's rho and Kendall's tau-b, with p-values.

Undefined values are ``None`` (see :mod:`rmbench.stats.estimates`).  scipy
is imported lazily where a distribution function is needed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from rmbench.stats.metrics import _as_numeric, _average_ranks, _same_length

__all__ = ["kendall_tau_b", "spearman"]


def _xy(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    xa = _as_numeric(x, "x")
    ya = _as_numeric(y, "y")
    _same_length(x=xa, y=ya)
    return xa, ya


def spearman(x: Any, y: Any) -> tuple[float | None, float | None]:
    """Spearman's rank correlation and its two-sided p-value.

    ``rho`` is Pearson's correlation of the average ranks (ties averaged).
    p-value from ``t = rho sqrt((n - 2) / (1 - rho^2))`` on ``n - 2`` degrees
    of freedom (as in scipy).  ``rho`` is ``None`` if either input is
    constant (including ``n = 1``); the p-value is ``None`` then and also
    for ``n = 2`` (no degrees of freedom).

    Reference: Spearman (1904), Am. J. Psychol. 15:72-101; Zar (1972),
    JASA 67:578-580.

    >>> spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5])[0]
    0.8
    """
    xa, ya = _xy(x, y)
    n = len(xa)
    rx = _average_ranks(xa) - (n + 1) / 2.0
    ry = _average_ranks(ya) - (n + 1) / 2.0
    denom = math.sqrt(float(rx @ rx) * float(ry @ ry))
    if denom == 0:
        return None, None
    rho = max(-1.0, min(1.0, float(rx @ ry) / denom))
    if n < 3:
        return rho, None
    if abs(rho) >= 1.0:
        return rho, 0.0
    from scipy.stats import t as t_dist

    tstat = rho * math.sqrt((n - 2) / (1.0 - rho * rho))
    return rho, float(2.0 * t_dist.sf(abs(tstat), n - 2))


def _count_inversions(v: np.ndarray) -> int:
    """Pairs i < j with v[i] > v[j] for integer v in [0, n); O(n log^2 n)."""
    n = len(v)
    vals = v.astype(np.int64)
    pos = np.arange(n, dtype=np.int64)
    total = 0
    width = 1
    while width < n:
        pair = pos // (2 * width)
        right = (pos // width) % 2 == 1
        key = pair * (n + 1) + vals  # left/right blocks are each sorted
        left_keys = key[~right]
        rkeys = key[right]
        block_end = np.searchsorted(left_keys, (pair[right] + 1) * (n + 1), side="left")
        total += int(np.sum(block_end - np.searchsorted(left_keys, rkeys, side="right")))
        vals = np.sort(key) - pair * (n + 1)  # merge each pair of blocks
        width *= 2
    return total


def _tie_sums(a: np.ndarray) -> tuple[float, float, float]:
    """sum t(t-1)/2, sum t(t-1)(t-2), sum t(t-1)(2t+5) over tie groups."""
    t = np.unique(a, return_counts=True)[1].astype(np.float64)
    return (
        float(np.sum(t * (t - 1) / 2)),
        float(np.sum(t * (t - 1) * (t - 2))),
        float(np.sum(t * (t - 1) * (2 * t + 5))),
    )


def _kendall_exact_cdf(n: int, c: int) -> float:
    """P(Q <= c) for the number of inversions Q of a random permutation of n."""
    probs = np.zeros(c + 1)
    probs[0] = 1.0
    for j in range(2, n + 1):  # insert element j: adds 0..j-1 inversions
        csum = np.cumsum(probs)
        shifted = np.concatenate([np.zeros(j), csum[: max(0, c + 1 - j)]])[: c + 1]
        probs = (csum - shifted) / j
    return float(probs.sum())


def kendall_tau_b(x: Any, y: Any, *, method: str = "auto") -> tuple[float | None, float | None]:
    """Kendall's tau-b and its two-sided p-value.

    ``tau_b = (P - Q) / sqrt((n0 - n1)(n0 - n2))`` with ``P``/``Q`` the
    concordant/discordant pairs, ``n0 = n(n-1)/2`` and ``n1``, ``n2`` the
    pairs tied in x, in y.  ``Q`` is counted as the inversions of y after
    sorting by (x, y), in O(n log^2 n).  p-value: ``"exact"`` permutation
    distribution (no ties only), or ``"asymptotic"`` normal approximation
    of ``S = P - Q`` with the tie-corrected variance of Kendall (1970, eq.
    4.3); ``"auto"`` uses exact when there are no ties and ``n <= 33`` (as
    scipy does).  Returns ``(None, None)`` if either input is constant.

    Reference: Kendall (1945), Biometrika 33:239-251; Kendall (1970), *Rank
    Correlation Methods*, 4th ed., ch. 4.

    >>> kendall_tau_b([1, 2, 3, 4, 5], [2, 1, 3, 5, 4])
    (0.6, 0.23333333333333334)
    """
    if method not in ("auto", "exact", "asymptotic"):
        raise ValueError(f"method must be 'auto', 'exact' or 'asymptotic', got {method!r}")
    xa, ya = _xy(x, y)
    n = len(xa)
    order = np.lexsort((ya, xa))
    ycodes = np.unique(ya, return_inverse=True)[1].reshape(-1)[order]
    discordant = _count_inversions(ycodes)
    n0 = n * (n - 1) / 2.0
    n1, x0, x1 = _tie_sums(xa)
    n2, y0, y1 = _tie_sums(ya)
    joint = np.unique(np.column_stack([xa, ya]), axis=0, return_counts=True)[1].astype(float)
    n3 = float(np.sum(joint * (joint - 1) / 2))
    if n0 - n1 == 0 or n0 - n2 == 0:
        return None, None
    concordant = n0 - n1 - n2 + n3 - discordant
    s = concordant - discordant
    tau = max(-1.0, min(1.0, s / math.sqrt((n0 - n1) * (n0 - n2))))
    no_ties = n1 == 0 and n2 == 0
    if method == "exact" and not no_ties:
        raise ValueError("the exact p-value needs data without ties")
    if method == "exact" or (method == "auto" and no_ties and n <= 33):
        c = int(min(discordant, n0 - discordant))
        return tau, min(1.0, 2.0 * _kendall_exact_cdf(n, c))
    m = n * (n - 1.0)
    var = (m * (2 * n + 5) - x1 - y1) / 18.0 + 2.0 * n1 * n2 / m
    if n > 2:
        var += x0 * y0 / (9.0 * m * (n - 2))
    z = s / math.sqrt(var)
    return tau, math.erfc(abs(z) / math.sqrt(2.0))  # 2 P(Z > |z|)


def subset_ranks(rates: Mapping[str, float | None]) -> dict[str, float]:
    """Rank subsets by rate, 1 = highest; tied rates share their average rank; ``None`` rates are left out."""
    kept = {s: v for s, v in rates.items() if v is not None}
    ordered = sorted(kept.values(), reverse=True)
    pos: dict[float, list[int]] = {}
    for i, v in enumerate(ordered, start=1):
        pos.setdefault(v, []).append(i)
    return {s: float(np.mean(pos[v])) for s, v in kept.items()}
