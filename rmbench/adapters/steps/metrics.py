"""Pure functions on step scores: aggregation, first-error prediction, threshold tuning, step AUROC.

Conventions (the same everywhere in rmbench):

* a *step score* is the evaluator's probability that a step is correct, in ``[0, 1]``;
* step indices are 0-based; a first error of ``None`` means "every step is correct";
* a *step label* is ``1`` (correct step), ``0`` (wrong step) or ``None`` (unknown, e.g. ProcessBench
  labels nothing after the first wrong step).

No randomness lives here except through a generator passed in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

from rmbench.datatypes import ItemResult

Aggregation = Literal["min", "last", "product", "mean"]
AGGREGATIONS: tuple[str, ...] = ("min", "last", "product", "mean")


def aggregate_steps(scores: Sequence[float], how: str) -> float:
    """One solution score from its step scores.

    ``min`` (the weakest step), ``last`` (the final step), ``product`` (all steps right, as if
    independent) or ``mean``. An empty list gives NaN.

    >>> aggregate_steps([0.9, 0.5, 0.8], "min"), aggregate_steps([0.9, 0.5, 0.8], "last")
    (0.5, 0.8)
    >>> round(aggregate_steps([0.9, 0.5, 0.8], "product"), 6), round(aggregate_steps([0.9, 0.5, 0.8], "mean"), 6)
    (0.36, 0.733333)
    """
    if how not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation '{how}'; use one of {', '.join(AGGREGATIONS)}")
    if not scores:
        return math.nan
    values = [float(s) for s in scores]
    if how == "min":
        return min(values)
    if how == "last":
        return values[-1]
    if how == "product":
        return math.prod(values)
    return sum(values) / len(values)


def first_below(scores: Sequence[float], threshold: float) -> int | None:
    """Predicted first error: the first step whose score is ``< threshold``; ``None`` if there is none.

    >>> first_below([0.9, 0.4, 0.2], 0.5), first_below([0.9, 0.6], 0.5)
    (1, None)
    """
    for i, s in enumerate(scores):
        if s < threshold:
            return i
    return None


def argmin_step(scores: Sequence[float]) -> int | None:
    """Threshold-free localisation: the index of the lowest step score (first one on ties)."""
    if not scores:
        return None
    return int(np.argmin(np.asarray(scores, dtype=float)))


def implied_step_labels(n_steps: int, first_error: int | None) -> list[int | None]:
    """Step labels implied by a first-error annotation: correct before it, wrong at it, unknown after.

    >>> implied_step_labels(4, 2), implied_step_labels(2, None)
    ([1, 1, 0, None], [1, 1])
    """
    if first_error is None:
        return [1] * n_steps
    return [1] * first_error + [0] + [None] * (n_steps - first_error - 1)


# ------------------------------------------------------------------------------ ProcessBench F1


def processbench_f1(predicted: Sequence[int | None], gold: Sequence[int | None]) -> dict[str, float]:
    """ProcessBench's numbers: accuracy on erroneous items (exact first-error match), on correct
    items (predicted "no error"), and their harmonic mean F1. Undefined parts are NaN.

    >>> processbench_f1([1, None, None, 0], [1, 2, None, None])
    {'acc_erroneous': 0.5, 'acc_correct': 0.5, 'f1': 0.5}
    """
    err = [p == g for p, g in zip(predicted, gold, strict=True) if g is not None]
    cor = [p is None for p, g in zip(predicted, gold, strict=True) if g is None]
    a = float(np.mean(err)) if err else math.nan
    b = float(np.mean(cor)) if cor else math.nan
    f1 = 2 * a * b / (a + b) if a + b > 0 else (0.0 if a == 0 and b == 0 else math.nan)
    return {"acc_erroneous": a, "acc_correct": b, "f1": f1}


def tune_threshold(step_scores: Sequence[Sequence[float]], gold: Sequence[int | None]) -> dict[str, Any]:
    """The threshold that maximises ProcessBench F1 on labelled solutions (a development split).

    A prediction only changes when the threshold crosses a step score, so the candidates are the
    midpoints between consecutive distinct scores, plus one below all scores (nothing flagged) and
    one just above all (everything flagged). Each item is right on an interval of thresholds:
    an erroneous item with first error ``g`` when ``score[g] < t <= min(score[:g])``, a correct item
    when ``t <= min(score)``; counting intervals gives F1 for every candidate at once. Ties between
    candidates go to the smallest threshold. Needs at least one erroneous and one correct item.

    Returns ``{"threshold", "f1", "acc_erroneous", "acc_correct", "n_items", "n_candidates"}``.
    """
    if len(step_scores) != len(gold):
        raise ValueError(f"{len(step_scores)} score lists but {len(gold)} labels")
    lows, highs, erroneous = [], [], []
    values: list[float] = []
    for scores, g in zip(step_scores, gold, strict=True):
        s = np.asarray(scores, dtype=float)
        if s.size == 0 or not np.all(np.isfinite(s)):
            raise ValueError("every development item needs finite step scores")
        values.extend(s.tolist())
        if g is None:
            lows.append(-math.inf)
            highs.append(float(s.min()))
            erroneous.append(False)
        else:
            lows.append(float(s[g]))
            highs.append(float(s[:g].min()) if g > 0 else math.inf)
            erroneous.append(True)
    err = np.asarray(erroneous)
    if err.all() or not err.any():
        raise ValueError("tuning needs both erroneous and all-correct items in the development split")
    distinct = np.unique(np.asarray(values))
    candidates = np.concatenate([
        [distinct[0]], (distinct[:-1] + distinct[1:]) / 2, [np.nextafter(distinct[-1], np.inf)],
    ])
    lo, hi = np.asarray(lows)[:, None], np.asarray(highs)[:, None]
    t = candidates[None, :]
    right = np.where(err[:, None], (lo < t) & (t <= hi), t <= hi)
    acc_e = right[err].mean(axis=0)
    acc_c = right[~err].mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(acc_e + acc_c > 0, 2 * acc_e * acc_c / (acc_e + acc_c), 0.0)
    best = int(np.argmax(f1))  # first maximum = smallest threshold
    return {
        "threshold": float(candidates[best]),
        "f1": float(f1[best]),
        "acc_erroneous": float(acc_e[best]),
        "acc_correct": float(acc_c[best]),
        "n_items": len(gold),
        "n_candidates": int(candidates.size),
    }


# ------------------------------------------------------------------------------------ step AUROC


def _auroc_from_levels(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """AUROC from weights per score level (``[..., levels]``, levels in increasing score order)."""
    below = np.cumsum(neg, axis=-1) - neg
    wins = np.sum(pos * (below + 0.5 * neg), axis=-1)
    total = pos.sum(axis=-1) * neg.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, wins / np.where(total > 0, total, 1), np.nan)


def auroc_of_cluster_counts(
    scores: Sequence[float], labels: Sequence[int], clusters: Sequence[str],
) -> tuple[float, int, Callable[[np.ndarray], np.ndarray]]:
    """Pooled step AUROC on the data, the number of clusters, and the AUROC as a function of cluster
    counts (resamples x clusters, clusters in sorted label order; see :mod:`rmbench.stats.stratified`):
    each step weighs as often as its cluster was drawn. NaN where a resample has no step of a class."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=int)
    if not (len(s) == len(y) == len(clusters)):
        raise ValueError("scores, labels and clusters must have the same length")
    if s.size == 0:
        return math.nan, 0, lambda counts: np.full(len(counts), np.nan)
    _, level = np.unique(s, return_inverse=True)
    _, codes = np.unique(np.asarray(clusters), return_inverse=True)
    n_levels, n_clusters = int(level.max()) + 1, int(codes.max()) + 1
    is_pos, is_neg = y == 1, y == 0

    def stat(step_weights: np.ndarray) -> float:
        pos = np.bincount(level[is_pos], weights=step_weights[is_pos], minlength=n_levels)
        neg = np.bincount(level[is_neg], weights=step_weights[is_neg], minlength=n_levels)
        return float(_auroc_from_levels(pos, neg))

    def of_counts(counts: np.ndarray) -> np.ndarray:
        return np.array([stat(row[codes].astype(float)) for row in counts])

    return stat(np.ones(s.size)), n_clusters, of_counts


def step_auroc(
    scores: Sequence[float], labels: Sequence[int], clusters: Sequence[str], rng: np.random.Generator,
    *, n_resamples: int = 2000, confidence: float = 0.95,
) -> dict[str, Any]:
    """AUROC of step scores against step labels (1 = correct step, the positive class), pooled over
    all steps, with a percentile bootstrap that resamples whole clusters (solutions or problems).

    AUROC = P(score of a correct step > score of a wrong step), ties counted as one half
    (the Mann-Whitney statistic divided by ``n_pos x n_neg``). It needs no threshold. Each resample
    weighs every step by how often its cluster was drawn and recomputes the statistic exactly from
    per-score-level weights. Fewer than 2 clusters give no interval (every resample would be the data).
    """
    from rmbench.stats.stratified import cluster_counts, percentile_interval

    y = np.asarray(labels, dtype=int)
    value, n_clusters, of_counts = auroc_of_cluster_counts(scores, labels, clusters)
    base: dict[str, Any] = {"n_steps": int(y.size), "n_pos": int((y == 1).sum()), "n_neg": int((y == 0).sum()),
                            "confidence": confidence, "method": "percentile", "kind": "auroc"}
    point = value if math.isfinite(value) else None
    if n_clusters < 2:
        note = {"note": "a bootstrap interval needs at least 2 clusters"} if n_clusters else {}
        return {"value": point, "low": None, "high": None, "n_clusters": n_clusters, **base, **note}
    stats = np.concatenate([of_counts(c) for c in cluster_counts(n_clusters, rng, n_resamples)])
    low, high, undefined = percentile_interval(stats, confidence)
    return {"value": point, "low": low, "high": high, "n_clusters": n_clusters, "undefined_resamples": undefined,
            **base}


def pooled_steps(items: Sequence[ItemResult], of: Sequence[str]) -> tuple[list[float], list[int], list[str]]:
    """Step scores, step labels and clusters pooled over items, ``of = [scores_key, labels_key]``, each a
    per-step list found in the item's ``extra`` or ``scores``. Steps with an unknown label or a
    non-finite score are left out; each item's steps share its cluster."""
    if len(of) != 2:
        raise ValueError(f"auroc takes [scores, labels], got {list(of)}")
    scores: list[float] = []
    labels: list[int] = []
    clusters: list[str] = []
    for it in items:
        view = {**it.scores, **it.extra}
        s, y = view.get(of[0]), view.get(of[1])
        if not isinstance(s, list) or not isinstance(y, list) or len(s) != len(y):
            continue
        for score, label in zip(s, y, strict=True):
            if label is None or score is None or not math.isfinite(float(score)):
                continue
            scores.append(float(score))
            labels.append(int(label))
            clusters.append(it.cluster)
    return scores, labels, clusters


def items_auroc(
    items: Sequence[ItemResult], of: Sequence[str], rng: np.random.Generator,
    *, n_resamples: int = 2000, confidence: float = 0.95,
) -> dict[str, Any]:
    """:func:`step_auroc` over the steps of items (:func:`pooled_steps`)."""
    scores, labels, clusters = pooled_steps(items, of)
    out = step_auroc(scores, labels, clusters, rng, n_resamples=n_resamples, confidence=confidence)
    return {**out, "n": len(items), "of": list(of)}
