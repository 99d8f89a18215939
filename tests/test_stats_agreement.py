"""Tests for rmbench.stats.agreement against sklearn / statsmodels / scipy."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats as sps
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

from rmbench.stats import (
    KappaResult,
    cohen_kappa,
    cohen_kappa_ci,
    fleiss_kappa,
    fleiss_kappa_from_ratings,
    kappa_band,
    kappa_from_confusion,
    kendall_tau_b,
    percent_agreement,
    spearman,
)
from rmbench.stats.correlation import _count_inversions, _kendall_exact_cdf

# Fleiss (1971) / Wikipedia "Fleiss' kappa" worked example: 10 items, 14 raters.
FLEISS_TABLE = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_cohen_kappa_matches_sklearn_random(weights):
    rng = np.random.default_rng(40)
    for _ in range(25):
        n = int(rng.integers(5, 300))
        k = int(rng.integers(2, 6))
        r1 = rng.integers(0, k, n)
        r2 = np.where(rng.random(n) < 0.6, r1, rng.integers(0, k, n))
        if len(set(r1)) < 2 or len(set(r2)) < 2:
            continue
        ref = cohen_kappa_score(r1, r2, weights=weights)
        assert cohen_kappa(r1, r2, weights=weights) == pytest.approx(ref, abs=1e-12)


def test_cohen_kappa_string_labels_and_explicit_order():
    order = ["low", "mid", "high"]
    rng = np.random.default_rng(41)
    r1 = np.array(order)[rng.integers(0, 3, 200)]
    r2 = np.array(order)[rng.integers(0, 3, 200)]
    for w in ["linear", "quadratic"]:
        ref = cohen_kappa_score(r1, r2, weights=w, labels=order)
        assert cohen_kappa(r1, r2, weights=w, labels=order) == pytest.approx(ref)
        # sorted order ("high" < "low" < "mid") is a different weighting
        assert cohen_kappa(r1, r2, weights=w) == pytest.approx(cohen_kappa_score(r1, r2, weights=w))
    assert cohen_kappa(r1, r2) == pytest.approx(cohen_kappa_score(r1, r2))  # order irrelevant


def test_cohen_kappa_literature_and_edge_cases():
    # Wikipedia "Cohen's kappa": 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no -> 0.4
    r1 = ["yes"] * 25 + ["no"] * 25
    r2 = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(r1, r2) == pytest.approx(0.4)
    assert kappa_from_confusion([[20, 5], [10, 15]]) == pytest.approx(0.4)
    assert cohen_kappa([1, 2, 3], [1, 2, 3]) == 1.0  # perfect agreement
    assert cohen_kappa([0, 1, 0, 1], [1, 0, 1, 0]) == -1.0
    assert cohen_kappa([1, 1, 1], [1, 0, 1]) is None  # constant rater
    assert cohen_kappa([1, 1], [1, 1]) is None  # both constant (0/0)
    assert cohen_kappa(["x"], ["x"]) is None  # n = 1
    with pytest.raises(ValueError, match="empty"):
        cohen_kappa([], [])
    with pytest.raises(ValueError, match="length mismatch"):
        cohen_kappa([1, 2], [1])
    with pytest.raises(ValueError, match="weights"):
        cohen_kappa([1, 2], [1, 2], weights="cubic")
    with pytest.raises(ValueError, match="not in labels"):
        cohen_kappa([1, 2], [1, 3], labels=[1, 2])


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_kappa_from_confusion_equals_item_level(weights):
    rng = np.random.default_rng(42)
    conf = rng.integers(0, 20, (4, 4))
    r1 = np.repeat(np.arange(4), conf.sum(axis=1))
    r2 = np.concatenate([np.repeat(np.arange(4), row) for row in conf])
    assert kappa_from_confusion(conf, weights=weights) == pytest.approx(
        cohen_kappa_score(r1, r2, weights=weights)
    )
    assert kappa_from_confusion(conf / conf.sum(), weights=weights) == pytest.approx(
        cohen_kappa(r1, r2, weights=weights)
    )  # proportions work too
    assert kappa_from_confusion([[5, 3], [0, 0]]) is None  # rater 1 constant
    for bad in ([[1, 2, 3]], [[0, 0], [0, 0]], [[1, -1], [0, 1]], []):
        with pytest.raises(ValueError):
            kappa_from_confusion(bad)


def test_kappa_band_landis_koch():
    cases = {
        -0.01: "poor",
        0.0: "slight",
        0.2: "slight",
        0.21: "fair",
        0.4: "fair",
        0.41: "moderate",
        0.6: "moderate",
        0.61: "substantial",
        0.8: "substantial",
        0.81: "almost perfect",
        1.0: "almost perfect",
    }
    for k, band in cases.items():
        assert kappa_band(k) == band
    assert kappa_band(None) == "undefined"
    for bad in (float("nan"), 1.5):
        with pytest.raises(ValueError):
            kappa_band(bad)


def _vkappa(r1: np.ndarray, r2: np.ndarray, axis: int = -1) -> np.ndarray:
    """Reference unweighted kappa along ``axis``: (p_o - p_e) / (1 - p_e)."""
    po = np.mean(r1 == r2, axis=axis)
    pe = sum(np.mean(r1 == k, axis=axis) * np.mean(r2 == k, axis=axis) for k in range(3))
    return (po - pe) / (1 - pe)


def test_kappa_ci_engines_and_scipy_reference():
    rng = np.random.default_rng(43)
    n = 300
    r1 = rng.integers(0, 3, n)
    r2 = np.where(rng.random(n) < 0.55, r1, rng.integers(0, 3, n))
    point = cohen_kappa_score(r1, r2)
    res_m = cohen_kappa_ci(r1, r2, np.random.default_rng(1), n_resamples=20000)
    res_i = cohen_kappa_ci(r1, r2, np.random.default_rng(2), n_resamples=20000, engine="index")
    ref = sps.bootstrap(
        (r1, r2),
        _vkappa,
        paired=True,
        vectorized=True,
        n_resamples=20000,
        method="percentile",
        rng=np.random.default_rng(3),
    ).confidence_interval
    for res in (res_m, res_i):
        assert isinstance(res, KappaResult)
        assert res.kappa == pytest.approx(point)
        assert res.band == kappa_band(point) and res.undefined_reason is None
        assert (res.low, res.high) == pytest.approx((ref.low, ref.high), abs=0.006)
    assert (res_m.low, res_m.high) == pytest.approx((res_i.low, res_i.high), abs=0.006)
    se = np.sqrt(np.var([cohen_kappa(r1[i], r2[i]) for i in rng.integers(0, n, (300, n))]))
    assert res_m.high - res_m.low == pytest.approx(2 * 1.96 * se, rel=0.2)


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_kappa_ci_weighted_contains_point(weights):
    rng = np.random.default_rng(44)
    r1 = rng.integers(0, 4, 150)
    r2 = np.clip(r1 + rng.integers(-1, 2, 150), 0, 3)
    res = cohen_kappa_ci(r1, r2, rng, weights=weights, n_resamples=1000)
    assert res.low < res.kappa < res.high and res.weights == weights
    assert res.kappa == pytest.approx(cohen_kappa_score(r1, r2, weights=weights))


def test_kappa_ci_undefined_cases():
    res = cohen_kappa_ci([1, 1, 1, 1], [0, 1, 0, 1], np.random.default_rng(0))
    assert res.kappa is None and res.low is None and res.high is None
    assert res.undefined_reason == "constant rater" and res.band == "undefined"
    assert res.to_dict()["undefined_reason"] == "constant rater"
    res = cohen_kappa_ci([0, 1, 0], [0, 1, 1], np.random.default_rng(0), n_resamples=400)
    assert res.kappa is not None and res.n_resamples_undefined > 0  # tiny n
    res = cohen_kappa_ci(["a", "b"] * 20, ["a", "b"] * 20, np.random.default_rng(0))
    assert (res.kappa, res.low, res.high) == (1.0, 1.0, 1.0)


def test_fleiss_literature_value_and_statsmodels():
    assert fleiss_kappa(FLEISS_TABLE) == pytest.approx(0.2099, abs=5e-5)
    assert round(fleiss_kappa(FLEISS_TABLE), 3) == 0.210
    assert fleiss_kappa(FLEISS_TABLE) == pytest.approx(sm_fleiss(np.array(FLEISS_TABLE)))
    rng = np.random.default_rng(45)
    for _ in range(20):
        items, raters, cats = int(rng.integers(2, 60)), int(rng.integers(2, 8)), int(rng.integers(2, 6))
        ratings = rng.integers(0, cats, (items, raters))
        table, _ = aggregate_raters(ratings)
        ours = fleiss_kappa_from_ratings(ratings)
        if ours is None:
            continue
        assert ours == pytest.approx(sm_fleiss(table), abs=1e-12)
        assert fleiss_kappa(table) == pytest.approx(ours, abs=1e-12)


def test_fleiss_edge_cases():
    assert fleiss_kappa([[3, 0], [3, 0]]) is None  # all ratings in one category
    assert fleiss_kappa_from_ratings([["a", "a", "a"]]) is None
    assert fleiss_kappa([[3, 0], [0, 3]]) == 1.0  # perfect agreement
    labels = np.array([["pos", "neg", "pos"], ["neg", "neg", "neg"], ["pos", "pos", "neg"]])
    assert fleiss_kappa_from_ratings(labels) == pytest.approx(sm_fleiss(aggregate_raters(labels)[0]))
    for bad in ([[2, 1], [1, 1]], [[1, 0], [0, 1]], [[1.5, 0.5]], [], [[-1, 3]]):
        with pytest.raises(ValueError):
            fleiss_kappa(bad)
    with pytest.raises(ValueError):
        fleiss_kappa_from_ratings(["a", "b"])


def test_spearman_matches_scipy():
    rng = np.random.default_rng(46)
    for _ in range(25):
        n = int(rng.integers(3, 200))
        x = rng.integers(0, 8, n).astype(float)  # ties
        y = x + rng.normal(0, 3, n)
        if np.ptp(x) == 0:
            continue
        rho, p = spearman(x, y)
        ref = sps.spearmanr(x, y)
        assert rho == pytest.approx(ref.statistic, abs=1e-12)
        assert p == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-300)


def test_spearman_edge_cases():
    assert spearman([1, 2, 3], [3, 4, 5]) == (1.0, 0.0)
    assert spearman([1, 2, 3], [5, 5, 5]) == (None, None)  # constant: undefined
    assert spearman([1], [2]) == (None, None)  # n = 1
    rho, p = spearman([1, 2], [2, 1])
    assert rho == -1.0 and p is None  # n = 2: no degrees of freedom
    with pytest.raises(ValueError, match="length mismatch"):
        spearman([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="empty"):
        spearman([], [])


def test_count_inversions_brute_force():
    rng = np.random.default_rng(47)
    for n in [1, 2, 3, 7, 64, 100, 257]:
        v = rng.integers(0, max(1, n // 3), n)
        brute = sum(int(v[i] > v[j]) for i, j in itertools.combinations(range(n), 2))
        assert _count_inversions(v) == brute


def test_kendall_exact_distribution():
    # P(Q <= c) over permutations of 5: inversion counts 1, 4, 9, 15, 20, 22, ...
    assert _kendall_exact_cdf(5, 0) == pytest.approx(1 / 120)
    assert _kendall_exact_cdf(5, 2) == pytest.approx(14 / 120)
    assert _kendall_exact_cdf(4, 6) == pytest.approx(1.0)


def test_kendall_matches_scipy():
    rng = np.random.default_rng(48)
    for n in [3, 5, 12, 33, 34, 80, 2000]:  # exact (<=33, no ties) and asymptotic
        x = rng.permutation(n).astype(float)
        y = x + rng.normal(0, n / 3, n)
        tau, p = kendall_tau_b(x, y)
        ref = sps.kendalltau(x, y)
        assert tau == pytest.approx(ref.statistic, abs=1e-12)
        assert p == pytest.approx(ref.pvalue, rel=1e-7, abs=1e-300)
    for n in [4, 10, 50, 3000]:  # with ties: asymptotic with tie-corrected variance
        x = rng.integers(0, 5, n)
        y = x + rng.integers(0, 4, n)
        tau, p = kendall_tau_b(x, y)
        ref = sps.kendalltau(x, y)
        assert tau == pytest.approx(ref.statistic, abs=1e-12)
        assert p == pytest.approx(ref.pvalue, rel=1e-7, abs=1e-300)
    x, y = rng.normal(size=20), rng.normal(size=20)
    assert kendall_tau_b(x, y, method="asymptotic")[1] == pytest.approx(
        sps.kendalltau(x, y, method="asymptotic").pvalue
    )


def test_kendall_edge_cases():
    assert kendall_tau_b([1, 2, 3, 4], [1, 2, 3, 4])[0] == 1.0
    assert kendall_tau_b([1, 2, 3, 4], [4, 3, 2, 1])[0] == -1.0
    assert kendall_tau_b([1, 1, 1], [1, 2, 3]) == (None, None)  # all ties
    assert kendall_tau_b([1], [1]) == (None, None)  # n = 1
    assert kendall_tau_b([1, 2], [2, 1]) == (-1.0, 1.0)
    with pytest.raises(ValueError, match="ties"):
        kendall_tau_b([1, 1, 2], [1, 2, 3], method="exact")
    with pytest.raises(ValueError, match="length mismatch"):
        kendall_tau_b([1, 2, 3], [1, 2])


def test_percent_agreement():
    assert percent_agreement(["a", "b", "c"], ["a", "b", "b"]) == pytest.approx(2 / 3)
    assert percent_agreement([1], [1]) == 1.0
    with pytest.raises(ValueError, match="empty"):
        percent_agreement([], [])
    with pytest.raises(ValueError, match="length mismatch"):
        percent_agreement([1], [1, 2])
