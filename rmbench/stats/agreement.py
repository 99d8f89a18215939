"""Inter-rater agreement: Cohen's and Fleiss' kappa (rank correlations: :mod:`rmbench.stats.correlation`).

Undefined values are ``None`` (see :mod:`rmbench.stats.estimates`).  scipy
is imported lazily where a distribution function is needed.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from rmbench.stats.estimates import KappaResult
from rmbench.stats.metrics import _as_1d, _encode, _same_length
from rmbench.stats.resampling import CHUNK_ELEMENTS, check_args, child_rngs, multinomial_map

__all__ = [
    "cohen_kappa",
    "cohen_kappa_ci",
    "fleiss_kappa",
    "fleiss_kappa_from_ratings",
    "kappa_band",
    "kappa_from_confusion",
    "percent_agreement",
]

_WEIGHTS = (None, "linear", "quadratic")
CONSTANT_RATER = "constant rater"


def _weight_matrix(k: int, weights: str | None) -> np.ndarray:
    """Disagreement weights: 1 - I, |i - j| or (i - j)^2."""
    if weights not in _WEIGHTS:
        raise ValueError(f"weights must be None, 'linear' or 'quadratic', got {weights!r}")
    i = np.arange(k)
    dist = np.abs(i[:, None] - i[None, :]).astype(np.float64)
    if weights is None:
        return (dist > 0).astype(np.float64)
    return dist if weights == "linear" else dist**2


def _kappa_stack(conf: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Kappa for a stack of confusion matrices (B, k, k); NaN if undefined."""
    conf = conf.astype(np.float64)
    n = conf.sum(axis=(1, 2))
    rows = conf.sum(axis=2)
    cols = conf.sum(axis=1)
    observed = np.einsum("bij,ij->b", conf, w) / n
    expected = np.einsum("bi,ij,bj->b", rows, w, cols) / (n * n)
    constant = (np.count_nonzero(rows, axis=1) < 2) | (np.count_nonzero(cols, axis=1) < 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = 1.0 - observed / expected
    kappa[constant | ~(expected > 0)] = np.nan
    return kappa


def _confusion_input(matrix: Any) -> np.ndarray:
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"confusion matrix must be square 2-D, got shape {m.shape}")
    if m.size == 0:
        raise ValueError("confusion matrix is empty")
    if not np.isfinite(m).all() or (m < 0).any():
        raise ValueError("confusion matrix entries must be finite and non-negative")
    if m.sum() <= 0:
        raise ValueError("confusion matrix has no observations")
    return m


def kappa_from_confusion(matrix: Any, *, weights: str | None = None) -> float | None:
    """Cohen's kappa from a k x k confusion matrix (rows: rater 1, cols: rater 2).

    ``kappa = 1 - sum(w * O) / sum(w * E)`` with ``O`` the observed
    proportions, ``E = outer(row margins, column margins)`` and disagreement
    weights ``w_ij`` = ``[i != j]`` (unweighted, equivalent to
    ``(p_o - p_e) / (1 - p_e)``), ``|i - j|`` (linear) or ``(i - j)^2``
    (quadratic); row/column order defines the category order.  Returns
    ``None`` when a rater is constant (only one non-empty row or column):
    then kappa is 0/0 or an uninformative 0.

    Reference: Cohen (1960), EPM 20:37-46; Cohen (1968), Psychol. Bull.
    70:213-220 (weighted kappa).

    >>> kappa_from_confusion([[20, 5], [10, 15]])  # Wikipedia example
    0.4
    """
    m = _confusion_input(matrix)
    val = _kappa_stack(m[None], _weight_matrix(m.shape[0], weights))[0]
    return None if math.isnan(val) else float(val)


def _confusion(r1: Any, r2: Any, labels: Sequence[Hashable] | None) -> tuple[np.ndarray, int, int]:
    (c1, c2), cats = _encode(r1, r2, labels=labels, name="ratings")
    n = _same_length(r1=c1, r2=c2)
    k = len(cats)
    codes = c1 * k + c2
    return codes, k, n


def cohen_kappa(
    r1: Any,
    r2: Any,
    *,
    weights: str | None = None,
    labels: Sequence[Hashable] | None = None,
) -> float | None:
    """Cohen's kappa between two raters who labelled the same items.

    Labels may be any hashable values.  For weighted kappa the category
    order is ``labels`` when given, otherwise sorted order.  See
    :func:`kappa_from_confusion` for the formula.  Returns ``None`` if
    either rater gives the same label to every item ("constant rater").

    Reference: Cohen (1960), EPM 20:37-46.

    >>> cohen_kappa(["y", "y", "n", "n"], ["y", "n", "n", "n"])
    0.5
    """
    codes, k, _ = _confusion(r1, r2, labels)
    conf = np.bincount(codes, minlength=k * k).reshape(k, k)
    return kappa_from_confusion(conf, weights=weights)


def kappa_band(kappa: float | None) -> str:
    """Landis & Koch (1977) label for a kappa value.

    ``< 0`` poor, ``[0, 0.20]`` slight, ``(0.20, 0.40]`` fair,
    ``(0.40, 0.60]`` moderate, ``(0.60, 0.80]`` substantial,
    ``(0.80, 1]`` almost perfect; ``None`` gives ``"undefined"``.

    Reference: Landis & Koch (1977), Biometrics 33:159-174.

    >>> kappa_band(0.419), kappa_band(0.06), kappa_band(None)
    ('moderate', 'slight', 'undefined')
    """
    if kappa is None:
        return "undefined"
    k = float(kappa)
    if math.isnan(k) or k > 1.0 + 1e-9:
        raise ValueError(f"kappa must be a number <= 1, got {kappa}")
    if k < 0:
        return "poor"
    for upper, name in ((0.2, "slight"), (0.4, "fair"), (0.6, "moderate"), (0.8, "substantial")):
        if k <= upper:
            return name
    return "almost perfect"


def cohen_kappa_ci(
    r1: Any,
    r2: Any,
    rng: np.random.Generator,
    *,
    weights: str | None = None,
    labels: Sequence[Hashable] | None = None,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    engine: str = "auto",
) -> KappaResult:
    """Cohen's kappa with a percentile bootstrap CI (items resampled in pairs).

    Each item is coded as a cell ``i * k + j`` of the k x k confusion
    matrix.  ``engine="index"`` draws an index matrix per chunk and builds
    all confusion matrices at once with one ``bincount`` on offset codes;
    ``engine="multinomial"`` (the ``"auto"`` default) draws the resampled
    confusion matrices directly as ``Multinomial(n, O / n)``, which is the
    exact distribution of a bootstrap resample's confusion matrix.
    Resamples where kappa is undefined (a rater constant in the resample)
    are dropped and counted in ``n_resamples_undefined``.

    Reference: Efron & Tibshirani (1993), ch. 13; Cohen (1960).

    >>> r = cohen_kappa_ci([0, 1] * 50, [0, 1] * 45 + [1, 0] * 5, np.random.default_rng(0))
    >>> r.kappa, r.band, r.low < 0.8 < r.high
    (0.8, 'substantial', True)
    """
    b_total = check_args(n_resamples, confidence, engine)
    codes, k, n = _confusion(r1, r2, labels)
    w = _weight_matrix(k, weights)
    conf = np.bincount(codes, minlength=k * k).reshape(k, k)
    point = _kappa_stack(conf[None], w)[0]

    def result(**kw: Any) -> KappaResult:
        return KappaResult(n=n, weights=weights, confidence=confidence, **kw)

    if math.isnan(point):
        return result(kappa=None, low=None, high=None, band="undefined", undefined_reason=CONSTANT_RATER)
    if engine == "index":
        chunk = max(1, min(b_total, CHUNK_ELEMENTS // n))
        starts = list(range(0, b_total, chunk))
        boot = np.empty(b_total)
        for start, g in zip(starts, child_rngs(rng, len(starts)), strict=True):
            c = min(chunk, b_total - start)
            cell = np.take(codes, g.integers(0, n, size=(c, n), dtype=np.intp))
            cell += (np.arange(c, dtype=np.intp) * (k * k))[:, None]  # offset per resample
            cells = np.bincount(cell.ravel(), minlength=c * k * k)
            boot[start : start + c] = _kappa_stack(cells.reshape(c, k, k), w)
    else:
        boot = multinomial_map(
            rng, n, conf.ravel() / n, b_total, lambda d: _kappa_stack(d.reshape(-1, k, k), w)
        )
    ok = boot[~np.isnan(boot)]
    low = high = reason = None
    if len(ok):
        alpha = 1.0 - confidence
        low, high = (float(v) for v in np.quantile(ok, [alpha / 2.0, 1.0 - alpha / 2.0]))
    else:
        reason = "kappa undefined in every bootstrap resample"
    return result(
        kappa=float(point),
        low=low,
        high=high,
        band=kappa_band(float(point)),
        undefined_reason=reason,
        n_resamples=b_total,
        n_resamples_undefined=b_total - len(ok),
    )


def percent_agreement(r1: Any, r2: Any) -> float:
    """Fraction of items on which two raters give the same label.

    ``p_o = #(r1_i == r2_i) / n`` -- the observed agreement that Cohen's
    kappa corrects for chance.  Labels may be any values comparable with
    ``==``.

    Reference: Fleiss, Levin & Paik (2003), *Statistical Methods for Rates
    and Proportions*, 3rd ed., ch. 18.

    >>> percent_agreement(["a", "b", "c"], ["a", "b", "b"])
    0.6666666666666666
    """
    codes1 = _as_1d(r1, "r1").tolist()
    codes2 = _as_1d(r2, "r2").tolist()
    if len(codes1) != len(codes2):
        raise ValueError(f"length mismatch: len(r1)={len(codes1)}, len(r2)={len(codes2)}")
    return sum(a == b for a, b in zip(codes1, codes2, strict=True)) / len(codes1)


def fleiss_kappa(table: Any) -> float | None:
    """Fleiss' kappa from an items x categories table of rating counts.

    Every row must sum to the same number of raters ``m >= 2``.  With
    ``n_ij`` raters putting item ``i`` in category ``j`` and ``N`` items::

        P_i   = (sum_j n_ij^2 - m) / (m (m - 1))
        p_j   = sum_i n_ij / (N m)
        kappa = (mean(P_i) - sum_j p_j^2) / (1 - sum_j p_j^2)

    Returns ``None`` if every rating falls in one category (0/0).

    Reference: Fleiss (1971), Psychol. Bull. 76:378-382.

    >>> round(fleiss_kappa([[2, 0], [0, 2], [1, 1]]), 4)
    0.3333
    """
    t = np.asarray(table, dtype=np.float64)
    if t.ndim != 2 or t.size == 0:
        raise ValueError(f"table must be a non-empty 2-D items x categories array, got {t.shape}")
    if not np.isfinite(t).all() or (t < 0).any() or (t != np.round(t)).any():
        raise ValueError("table entries must be non-negative integer counts")
    raters = t.sum(axis=1)
    if not np.all(raters == raters[0]):
        raise ValueError("every item (row) must have the same number of ratings")
    m = raters[0]
    if m < 2:
        raise ValueError(f"Fleiss' kappa needs at least 2 ratings per item, got {m:g}")
    p_item = ((t * t).sum(axis=1) - m) / (m * (m - 1))
    p_cat = t.sum(axis=0) / (len(t) * m)
    pe = float(np.sum(p_cat**2))
    if math.isclose(pe, 1.0, rel_tol=0, abs_tol=1e-12):
        return None
    return float((p_item.mean() - pe) / (1.0 - pe))


def fleiss_kappa_from_ratings(ratings: Any, *, labels: Sequence[Hashable] | None = None) -> float | None:
    """Fleiss' kappa from an items x raters matrix of labels (any hashable).

    Builds the items x categories count table ``n_ij`` (raters putting item
    ``i`` in category ``j``) and applies :func:`fleiss_kappa`.  No missing
    ratings are allowed (each item needs the same number of raters).

    Reference: Fleiss (1971), Psychol. Bull. 76:378-382.

    >>> round(fleiss_kappa_from_ratings([["a", "a"], ["b", "b"], ["a", "b"]]), 4)
    0.3333
    """
    arr = np.asarray(ratings)
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(f"ratings must be a non-empty items x raters matrix, got {arr.shape}")
    (codes,), cats = _encode(arr.ravel(), labels=labels, name="ratings")
    n_items, _ = arr.shape
    k = len(cats)
    offset = np.repeat(np.arange(n_items) * k, arr.shape[1])
    table = np.bincount(codes + offset, minlength=n_items * k).reshape(n_items, k)
    return fleiss_kappa(table)
