"""Intervals for every reported number: the stratified bootstrap against independent references, equal
item sets with equal intervals, sections that are means of subsets, few-cluster warnings, truncation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from rmbench.datatypes import ItemResult
from rmbench.results.subset_means import content_key
from rmbench.results.summary import compute_results
from rmbench.stats.seeds import derived_rng
from rmbench.stats.stratified import cluster_counts, stratified_bootstrap


def _clustered_mean(totals: np.ndarray, sizes: np.ndarray):  # type: ignore[no-untyped-def]
    return lambda counts: (counts @ totals) / (counts @ sizes)


def test_stratified_bootstrap_equals_an_independent_numpy_loop() -> None:
    """Same generators, drawn one resample at a time: resample r draws G_s clusters in every stratum."""
    data = np.random.default_rng(0)
    strata = []
    for n_clusters in (7, 12, 30):
        sizes = data.integers(1, 4, n_clusters).astype(float)
        totals = np.array([data.binomial(int(k), 0.6) for k in sizes], dtype=float)
        strata.append((totals, sizes))
    ours = stratified_bootstrap([_clustered_mean(t, s) for t, s in strata], [len(t) for t, _ in strata],
                                [np.random.default_rng(10 + k) for k in range(3)], n_resamples=700, confidence=0.9)
    rngs = [np.random.default_rng(10 + k) for k in range(3)]
    ref = []
    for _ in range(700):
        parts = []
        for (totals, sizes), rng in zip(strata, rngs, strict=True):
            pick = rng.integers(0, len(totals), len(totals))
            parts.append(totals[pick].sum() / sizes[pick].sum())
        ref.append(np.mean(parts))
    assert (ours["low"], ours["high"]) == pytest.approx(tuple(np.quantile(ref, [0.05, 0.95])), rel=1e-12)


def test_one_unclustered_stratum_agrees_with_scipy_bootstrap() -> None:
    from scipy.stats import bootstrap

    x = (np.random.default_rng(1).random(150) < 0.3).astype(float)
    ours = stratified_bootstrap([_clustered_mean(x, np.ones_like(x))], [len(x)], [np.random.default_rng(2)],
                                n_resamples=20000)
    ref = bootstrap((x,), np.mean, n_resamples=20000, method="percentile", rng=np.random.default_rng(3))
    assert ours["low"] == pytest.approx(ref.confidence_interval.low, abs=0.01)
    assert ours["high"] == pytest.approx(ref.confidence_interval.high, abs=0.01)


def test_mean_of_strata_width_matches_normal_theory() -> None:
    """SE of (p_1 + ... + p_k) / k with independent strata: sqrt(sum p_s (1 - p_s) / n_s) / k."""
    data = np.random.default_rng(4)
    ns, ps = (80, 200, 400), (0.3, 0.6, 0.8)
    xs = [(data.random(n) < p).astype(float) for n, p in zip(ns, ps, strict=True)]
    out = stratified_bootstrap([_clustered_mean(x, np.ones_like(x)) for x in xs], list(ns),
                               [np.random.default_rng(k) for k in range(3)], n_resamples=20000)
    se = np.sqrt(sum(x.mean() * (1 - x.mean()) / len(x) for x in xs)) / 3
    assert (out["high"] - out["low"]) / 2 == pytest.approx(1.96 * se, rel=0.06)


def test_cluster_counts_sum_to_the_number_of_clusters() -> None:
    chunks = list(cluster_counts(5, np.random.default_rng(0), 600))
    assert [len(c) for c in chunks] == [256, 256, 88]
    assert all((c.sum(axis=1) == 5).all() for c in chunks)


# ------------------------------------------------------------------------------------ summaries


def _items(subset: str, n: int, p: float, seed: int, per_cluster: int = 1, **metrics: Any) -> list[ItemResult]:
    rng = np.random.default_rng(seed)
    return [
        ItemResult(id=f"{subset}:{i}", subset=subset, cluster=f"{subset}:c{i // per_cluster}", example_hash="", scores={}, extra={},
                   metrics={"accuracy": float(rng.random() < p), **metrics},
                   baselines={"length": {"accuracy": float(rng.random() < 0.5)}})
        for i in range(n)
    ]


def _run(subsets: list[str], sections: dict | None = None, **scoring: Any) -> dict[str, Any]:
    return {"config": {"seed": 0, "n_bootstrap": 1000, "confidence": 0.95},
            "task": {"scoring": {"primary_metric": "accuracy", "sections": sections or {}, **scoring}},
            "data": {"subsets": subsets}, "model": {"truncation_side": "left"}}


def test_overall_of_one_subset_has_that_subsets_interval() -> None:
    """The reported bug: overall [42.3, 46.3] vs its only subset [42.2, 46.2], from seeding by label."""
    items = _items("only", 300, 0.44, 0, per_cluster=2)
    res = compute_results(_run(["only"]), items)
    assert res["overall"]["metrics"]["accuracy"] == res["subsets"]["only"]["metrics"]["accuracy"]
    assert res["overall"]["baselines"] == res["subsets"]["only"]["baselines"]


def test_mean_of_subsets_sections_get_stratified_intervals() -> None:
    items = _items("a", 60, 0.5, 1) + _items("b", 200, 0.8, 2, per_cluster=4) + _items("c", 40, 0.6, 3)
    run = _run(["a", "b", "c"], {"AB": ["a", "b"], "C": ["c"]}, section_weighting="subsets")
    res = compute_results(run, items)
    ab = res["sections"]["AB"]["metrics"]["accuracy"]
    acc = {s: res["subsets"][s]["metrics"]["accuracy"]["value"] for s in "ab"}
    assert ab["value"] == pytest.approx((acc["a"] + acc["b"]) / 2)
    # independent reference: the same per-subset generators, one resample at a time, clusters whole
    rngs = [derived_rng(0, content_key([it for it in items if it.subset == s]), "accuracy", "") for s in "ab"]
    ref = []
    groups = []
    for s in "ab":
        by_cluster: dict[str, list[float]] = {}
        for it in sorted((it for it in items if it.subset == s), key=lambda it: it.cluster):
            by_cluster.setdefault(it.cluster, []).append(it.metrics["accuracy"])
        groups.append([by_cluster[c] for c in sorted(by_cluster)])
    draws = [np.vstack(list(cluster_counts(len(g), r, 1000))) for g, r in zip(groups, rngs, strict=True)]
    for r in range(1000):
        ref.append(np.mean([
            sum(k * sum(g[j]) for j, k in enumerate(d[r])) / sum(k * len(g[j]) for j, k in enumerate(d[r]))
            for g, d in zip(groups, draws, strict=True)
        ]))
    assert (ab["low"], ab["high"]) == pytest.approx(tuple(np.quantile(ref, [0.025, 0.975])))
    assert ab["n_subsets"] == 2 and ab["method"] == "stratified percentile"
    assert res["sections"]["AB"]["baselines"]["length"]["accuracy"]["low"] is not None
    # a section of one subset is that subset: the very same estimate
    c = res["sections"]["C"]["metrics"]["accuracy"]
    assert {k: c[k] for k in ("value", "low", "high")} == {
        k: res["subsets"]["c"]["metrics"]["accuracy"][k] for k in ("value", "low", "high")}


def test_section_score_and_derived_metrics_get_intervals() -> None:
    """RewardBench 2's Overall score (a mean of each subset's own metric) and ProcessBench's average F1."""
    items = _items("a", 80, 0.7, 5) + _items("b", 80, 0.4, 6)
    for it in items:
        it.metrics.update(x=float(it.metrics["accuracy"]), y=float(it.id.endswith(("1", "2", "3"))))
    aggregates = {"f1": {"kind": "harmonic_mean", "of": ["x", "y"]}}
    run = _run(["a", "b"], {"Overall": ["a", "b"]}, section_weighting="subsets", aggregates=aggregates,
               subset_metrics={"b": "f1"})
    res = compute_results(run, items)
    section = res["sections"]["Overall"]
    f1 = section["metrics"]["f1"]
    assert f1["value"] == pytest.approx(np.mean([res["subsets"][s]["metrics"]["f1"]["value"] for s in "ab"]))
    assert f1["low"] < f1["value"] < f1["high"]
    score = section["score"]
    by_hand = (res["subsets"]["a"]["metrics"]["accuracy"]["value"] + res["subsets"]["b"]["metrics"]["f1"]["value"]) / 2
    assert score["value"] == pytest.approx(by_hand) and score["low"] < by_hand < score["high"]
    assert score["of"] == {"a": "accuracy", "b": "f1"}


def test_one_cluster_gives_no_interval_and_a_warning() -> None:
    """prmbench --limit 1: 8 items of one problem (one cluster) reported [40.7, 40.7]."""
    items = [ItemResult(id=f"s{k}:0", subset=f"s{k}", cluster="problem-0", example_hash="", scores={},
                        metrics={"accuracy": 1.0, "tp": float(k % 3), "fp": 1.0, "tn": 2.0, "fn": float(k % 2)})
             for k in range(8)]
    aggregates = {"score": {"kind": "macro_f1", "of": ["tp", "fp", "tn", "fn"]}}
    res = compute_results(_run([f"s{k}" for k in range(8)], aggregates=aggregates), items)
    score = res["overall"]["metrics"]["score"]
    assert score["value"] is not None and score["low"] is None and score["high"] is None
    assert "at least 2 clusters" in score["note"]
    assert any("fewer than 5 clusters" in w and "overall (1)" in w for w in res["warnings"])


def test_truncated_items_are_counted_and_warned() -> None:
    items = _items("a", 10, 0.5, 7) + _items("b", 10, 0.5, 8)
    for it in items[:3] + items[-1:]:
        it.extra["truncated"] = 2
    res = compute_results(_run(["a", "b"]), items)
    assert (res["overall"]["truncated"], res["overall"]["truncated_sequences"]) == (4, 8)
    assert res["subsets"]["a"]["truncated"] == 3 and res["subsets"]["b"]["truncated"] == 1
    assert any(w.startswith("4 of 20 items had input cut at the maximum length (on the left): a 3, b 1")
               for w in res["warnings"])
