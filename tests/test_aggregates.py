"""Derived metrics (rmbench.results.aggregates) against scikit-learn and hand computations."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, f1_score, precision_score, recall_score

from rmbench.datatypes import ItemResult
from rmbench.results.aggregates import aggregate, cluster_bootstrap_sums


def _item(i: int, metrics: dict, cluster: str | None = None) -> ItemResult:
    return ItemResult(id=f"i{i}", subset="s", cluster=cluster or f"i{i}", example_hash="", metrics=metrics, scores={})


def _segment_items(rng: np.random.Generator, n_items: int = 60):
    """Items holding several segments each; per-item confusion counts with positive = 1."""
    y_true, y_pred, items = [], [], []
    for i in range(n_items):
        k = int(rng.integers(1, 6))
        t = rng.random(k) < 0.3
        p = np.where(rng.random(k) < 0.75, t, ~t)
        y_true += list(t)
        y_pred += list(p)
        items.append(_item(i, {
            "tp": float(np.sum(t & p)), "fp": float(np.sum(~t & p)),
            "fn": float(np.sum(t & ~p)), "tn": float(np.sum(~t & ~p)),
        }))
    return np.array(y_true), np.array(y_pred), items


def test_f1_precision_recall_balanced_accuracy_match_sklearn() -> None:
    rng = np.random.default_rng(1)
    y_true, y_pred, items = _segment_items(rng)
    gen = np.random.default_rng(0)
    f1 = aggregate(items, "f1", ["tp", "fp", "fn"], gen, n_resamples=200)
    assert f1["value"] == pytest.approx(f1_score(y_true, y_pred))
    assert aggregate(items, "precision", ["tp", "fp"], gen, n_resamples=50)["value"] == pytest.approx(
        precision_score(y_true, y_pred))
    assert aggregate(items, "recall", ["tp", "fn"], gen, n_resamples=50)["value"] == pytest.approx(
        recall_score(y_true, y_pred))
    ba = aggregate(items, "balanced_accuracy", ["tp", "fn", "tn", "fp"], gen, n_resamples=50)
    assert ba["value"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    assert f1["low"] < f1["value"] < f1["high"]


def test_harmonic_mean_of_two_means_and_undefined_parts() -> None:
    items = [_item(i, {"a": float(i % 2), "b": None}) for i in range(10)]
    items += [_item(10 + i, {"a": None, "b": 1.0 if i < 3 else 0.0}) for i in range(10)]
    out = aggregate(items, "harmonic_mean", ["a", "b"], np.random.default_rng(0), n_resamples=300)
    a, b = 0.5, 0.3
    assert out["value"] == pytest.approx(2 * a * b / (a + b))
    # Some resamples can lose every 'b'-defined item only with vanishing probability here; the count is reported.
    assert out["undefined_resamples"] >= 0


def test_mean_of_is_unweighted_mean_of_metric_means() -> None:
    items = [_item(i, {"hard": 0.0, "easy": 1.0, "normal": None if i else 0.5}) for i in range(5)]
    out = aggregate(items, "mean_of", ["hard", "easy", "normal"], np.random.default_rng(0), n_resamples=100)
    assert out["value"] == pytest.approx((0.0 + 1.0 + 0.5) / 3)


def test_cluster_bootstrap_keeps_clusters_whole() -> None:
    rows = np.array([[1.0, 1.0], [1.0, 1.0], [0.0, 1.0]])
    sums = cluster_bootstrap_sums(rows, ["a", "a", "b"], np.random.default_rng(0), 500)
    # Cluster a contributes (2, 2) and b (0, 1); two clusters drawn per resample.
    allowed = {(4.0, 4.0), (2.0, 3.0), (0.0, 2.0)}
    assert {tuple(r) for r in sums} <= allowed
    assert len({tuple(r) for r in sums}) == 3


def test_clustered_interval_wider_than_iid_on_clustered_data() -> None:
    rng = np.random.default_rng(3)
    cluster_values = rng.random(40) < 0.6
    items = [_item(i, {"acc": float(cluster_values[i // 5])}, cluster=f"c{i // 5}") for i in range(200)]
    iid = [_item(i, dict(it.metrics)) for i, it in enumerate(items)]
    w_cl = aggregate(items, "mean_of", ["acc"], np.random.default_rng(0), n_resamples=2000)
    w_iid = aggregate(iid, "mean_of", ["acc"], np.random.default_rng(0), n_resamples=2000)
    assert (w_cl["high"] - w_cl["low"]) > 1.5 * (w_iid["high"] - w_iid["low"])


def test_arity_checked() -> None:
    with pytest.raises(ValueError, match="takes 3"):
        aggregate([_item(0, {"a": 1.0})], "f1", ["a"], np.random.default_rng(0))
