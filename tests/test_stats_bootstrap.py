"""Tests for rmbench.stats.bootstrap: scipy agreement, formulas, coverage, clusters."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from rmbench.stats import (
    Estimate,
    SumStatistic,
    bootstrap_ci,
    mean_ci,
    mean_statistic,
    paired_bootstrap_diff,
    ratio_of_sums,
)
from rmbench.stats import resampling as resampling_module


def _vstd(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """A statistic without closed-form jackknife (exercises the generic path)."""
    return x.std(axis=axis, ddof=1)


@pytest.mark.parametrize("engine", ["index", "multinomial"])
def test_mean_interval_matches_scipy(engine):
    # skewed data so that BCa and percentile differ clearly (~0.2 standard errors);
    # Monte-Carlo sd of a bound with 20k resamples is ~0.03 standard errors
    x = np.random.default_rng(10).lognormal(size=60)
    se = x.std() / np.sqrt(len(x))
    ours = {}
    for method, ref_method in [("percentile", "percentile"), ("bca", "BCa")]:
        ours[method] = bootstrap_ci(
            x, mean_statistic, np.random.default_rng(1), n_resamples=20000, method=method, engine=engine
        )
        ref = sps.bootstrap(
            (x,), np.mean, n_resamples=20000, method=ref_method, rng=np.random.default_rng(2)
        ).confidence_interval
        assert ours[method].value == pytest.approx(x.mean())
        assert ours[method].low == pytest.approx(ref.low, abs=0.08 * se)
        assert ours[method].high == pytest.approx(ref.high, abs=0.08 * se)
    assert ours["bca"].low - ours["percentile"].low > 0.12 * se
    assert ours["bca"].high - ours["percentile"].high > 0.12 * se


def test_bca_generic_statistic_matches_scipy():
    x = np.random.default_rng(11).lognormal(size=80)
    ours = bootstrap_ci(x, _vstd, np.random.default_rng(3), n_resamples=20000, method="bca")
    ref = sps.bootstrap(
        (x,), _vstd, n_resamples=20000, method="BCa", vectorized=True, rng=np.random.default_rng(4)
    ).confidence_interval
    width = ref.high - ref.low
    assert ours.low == pytest.approx(ref.low, abs=0.03 * width)
    assert ours.high == pytest.approx(ref.high, abs=0.03 * width)
    # the generic and the closed-form jackknife agree for the mean
    y = np.random.default_rng(5).normal(size=60)
    generic = bootstrap_ci(
        y, lambda a: a.mean(axis=-1), np.random.default_rng(6), method="bca", n_resamples=3000
    )
    closed = bootstrap_ci(
        y, mean_statistic, np.random.default_rng(6), method="bca", n_resamples=3000, engine="index"
    )
    assert (generic.low, generic.high) == pytest.approx((closed.low, closed.high), abs=1e-12)


def test_paired_bootstrap_matches_scipy_paired():
    rng = np.random.default_rng(12)
    a = rng.normal(size=300)
    b = a + rng.normal(0.1, 0.5, size=300)
    ours = paired_bootstrap_diff(a, b, np.random.default_rng(0), n_resamples=20000)
    ref = sps.bootstrap(
        (a, b),
        lambda u, v, axis: v.mean(axis) - u.mean(axis),
        paired=True,
        n_resamples=20000,
        method="percentile",
        rng=np.random.default_rng(1),
    ).confidence_interval
    assert ours.value == pytest.approx(b.mean() - a.mean())
    assert (ours.low, ours.high) == pytest.approx((ref.low, ref.high), abs=0.004)


def test_width_of_bernoulli_mean_is_2z_sd_over_sqrt_n():
    # catches e.g. an interval divided by sqrt(n_resamples) or using sd not se
    rng = np.random.default_rng(13)
    for n, p in [(400, 0.5), (2500, 0.8)]:
        x = rng.random(n) < p
        for engine in ["index", "multinomial"]:
            e = mean_ci(x, rng, n_resamples=4000, engine=engine)
            expected = 2 * 1.959964 * np.sqrt(e.value * (1 - e.value) / n)
            assert e.width == pytest.approx(expected, rel=0.08), (n, engine)


def test_engines_agree_in_distribution():
    rng = np.random.default_rng(14)
    x = (rng.random(500) < 0.3).astype(int)
    idx = mean_ci(x, np.random.default_rng(1), n_resamples=20000, engine="index")
    mul = mean_ci(x, np.random.default_rng(2), n_resamples=20000, engine="multinomial")
    assert (idx.low, idx.high) == pytest.approx((mul.low, mul.high), abs=0.004)


def test_paired_is_narrower_than_unpaired_on_correlated_runs():
    rng = np.random.default_rng(15)
    n = 1000
    skill = rng.random(n)  # item difficulty shared by both runs
    a = (skill + 0.15 * rng.random(n)) > 0.45
    b = (skill + 0.15 * rng.random(n)) > 0.40
    paired = paired_bootstrap_diff(a, b, rng, n_resamples=4000)
    ia = rng.integers(0, n, size=(4000, n))
    ib = rng.integers(0, n, size=(4000, n))
    unpaired = b[ib].mean(axis=1) - a[ia].mean(axis=1)
    lo, hi = np.quantile(unpaired, [0.025, 0.975])
    assert paired.value == pytest.approx(b.mean() - a.mean())
    assert paired.width < 0.6 * (hi - lo)


def test_paired_sign_convention_candidate_minus_baseline():
    base = [0, 0, 1, 1] * 10
    cand = [1, 0, 1, 1] * 10
    e = paired_bootstrap_diff(base, cand, np.random.default_rng(0), n_resamples=500)
    assert e.value == pytest.approx(0.25) and e.low > 0


@pytest.mark.parametrize("engine", ["index", "multinomial"])
def test_coverage_is_close_to_nominal(engine):
    rng = np.random.default_rng(16)
    reps, n, p = 250, 150, 0.3
    hits = 0
    for _ in range(reps):
        x = rng.random(n) < p
        e = mean_ci(x, rng, n_resamples=1000, engine=engine)
        hits += e.low <= p <= e.high
    assert 0.89 <= hits / reps <= 0.99


def test_bca_coverage_on_skewed_data():
    rng = np.random.default_rng(17)
    reps, hits = 200, 0
    for _ in range(reps):
        x = rng.exponential(size=60)
        e = bootstrap_ci(x, mean_statistic, rng, n_resamples=1000, method="bca")
        hits += e.low <= 1.0 <= e.high
    assert 0.88 <= hits / reps <= 0.99


def _clustered_data(rng, n_clusters=60, size=10):
    cluster_p = rng.beta(0.5, 0.5, n_clusters)  # strong between-cluster variation
    clusters = np.repeat(np.arange(n_clusters), size)
    correct = rng.random(n_clusters * size) < cluster_p[clusters]
    return correct, clusters


def test_cluster_bootstrap_is_wider_on_clustered_data():
    correct, clusters = _clustered_data(np.random.default_rng(18))
    iid = mean_ci(correct, np.random.default_rng(1), n_resamples=4000)
    clu = mean_ci(correct, np.random.default_rng(1), clusters=clusters, n_resamples=4000)
    assert clu.value == pytest.approx(iid.value)
    assert clu.n == len(correct) and clu.n_clusters == 60 and iid.n_clusters is None
    assert clu.width > 1.8 * iid.width
    for method in ["percentile", "bca"]:
        e = mean_ci(correct, np.random.default_rng(2), clusters=clusters, method=method)
        assert e.low < e.value < e.high


def test_singleton_clusters_equal_iid():
    rng = np.random.default_rng(19)
    x = rng.normal(size=200)
    ids = [f"prompt-{i:03d}" for i in range(200)]  # sorted like the items
    for method in ["percentile", "bca"]:
        iid = mean_ci(x, np.random.default_rng(5), method=method)
        clu = mean_ci(x, np.random.default_rng(5), clusters=ids, method=method)
        # identical index draws -> identical intervals
        assert (clu.low, clu.high) == pytest.approx((iid.low, iid.high), abs=1e-12)
    # and in distribution with the exact multinomial engine on binary data
    y = (rng.random(400) < 0.6).astype(int)
    iid = mean_ci(y, np.random.default_rng(6), n_resamples=20000)
    clu = mean_ci(y, np.random.default_rng(7), clusters=np.arange(400), n_resamples=20000)
    assert (clu.low, clu.high) == pytest.approx((iid.low, iid.high), abs=0.005)


def test_cluster_bootstrap_matches_naive_loop():
    """Unequal cluster sizes: vectorised ratio-of-sums == explicit loop (in distribution)."""
    rng = np.random.default_rng(20)
    sizes = rng.integers(1, 12, 40)
    clusters = np.repeat(np.arange(40), sizes)
    p = rng.beta(2, 2, 40)[clusters]
    correct = (rng.random(len(clusters)) < p).astype(int)
    groups = [correct[clusters == g] for g in range(40)]
    loop = []
    for _ in range(6000):  # the reference: resample cluster ids, pool items
        pick = rng.integers(0, 40, 40)
        pooled = np.concatenate([groups[g] for g in pick])
        loop.append(pooled.mean())
    ref = np.quantile(loop, [0.025, 0.975])
    for engine in ["index", "multinomial"]:
        e = mean_ci(correct, np.random.default_rng(8), clusters=clusters, n_resamples=6000, engine=engine)
        assert e.value == pytest.approx(correct.mean())
        assert (e.low, e.high) == pytest.approx(tuple(ref), abs=0.012)


def test_clustered_bca_generic_jackknife_equals_closed_form():
    correct, clusters = _clustered_data(np.random.default_rng(21), n_clusters=30, size=5)
    ones = np.ones(len(correct))
    generic = bootstrap_ci(
        (correct, ones),
        lambda s, n: s.sum(-1) / n.sum(-1),
        np.random.default_rng(3),
        clusters=clusters,
        method="bca",
    )
    closed = bootstrap_ci(
        (correct, ones),
        ratio_of_sums,
        np.random.default_rng(3),
        clusters=clusters,
        method="bca",
        engine="index",
    )
    assert (generic.low, generic.high) == pytest.approx((closed.low, closed.high), abs=1e-12)


def test_paired_clustered_diff():
    rng = np.random.default_rng(22)
    correct_a, clusters = _clustered_data(rng)
    correct_b = correct_a.copy()
    flip = rng.random(len(correct_b)) < 0.1
    correct_b[flip] = ~correct_b[flip]
    e = paired_bootstrap_diff(correct_a, correct_b, rng, clusters=clusters, n_resamples=2000)
    assert e.value == pytest.approx(correct_b.mean() - correct_a.mean())
    assert e.n_clusters == 60 and e.low <= e.value <= e.high


def test_determinism_and_threads(monkeypatch):
    monkeypatch.setattr(resampling_module, "CHUNK_ELEMENTS", 50_000)  # many chunks
    x = np.random.default_rng(23).normal(size=1000)
    one = bootstrap_ci(x, _vstd, np.random.default_rng(9), n_resamples=3000, n_jobs=1)
    two = bootstrap_ci(x, _vstd, np.random.default_rng(9), n_resamples=3000, n_jobs=2)
    again = bootstrap_ci(x, _vstd, np.random.default_rng(9), n_resamples=3000, n_jobs=1)
    assert one == two == again
    other = bootstrap_ci(x, _vstd, np.random.default_rng(10), n_resamples=3000)
    assert other != one


def test_degenerate_and_validation():
    e = mean_ci([1, 1, 1, 1], np.random.default_rng(0), method="bca")
    assert (e.value, e.low, e.high) == (1.0, 1.0, 1.0)
    assert isinstance(e, Estimate) and e.to_dict()["n"] == 4
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="empty"):
        mean_ci([], rng)
    with pytest.raises(ValueError, match="at least 2"):
        mean_ci([1.0], rng)  # n = 1
    with pytest.raises(ValueError, match="at least 2 clusters"):
        mean_ci([1.0, 0.0], rng, clusters=["p", "p"])
    with pytest.raises(ValueError, match="length mismatch"):
        paired_bootstrap_diff([1, 0], [1, 0, 1], rng)
    with pytest.raises(ValueError, match="length mismatch"):
        mean_ci([1, 0], rng, clusters=[1])
    with pytest.raises(ValueError, match="method"):
        mean_ci([1, 0], rng, method="basic")
    with pytest.raises(ValueError, match="mean_statistic"):
        bootstrap_ci([1.0, 2.0], mean_statistic, rng, clusters=[0, 1])
    with pytest.raises(ValueError, match="shape"):
        bootstrap_ci([1.0, 2.0], lambda a: a.mean(), rng)
    with pytest.raises(ValueError, match="non-finite"):
        mean_ci([1.0, np.inf], rng)
    with pytest.raises(ValueError, match="SumStatistic"):
        bootstrap_ci([1.0, 2.0], _vstd, rng, engine="multinomial")


def test_sum_statistic_protocol():
    s = SumStatistic(lambda t, m: t[0] / m, "mean")
    arr = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 3.0]])
    np.testing.assert_allclose(s(arr), [2.0, 1.0])
    np.testing.assert_allclose(s.jackknife(np.array([1.0, 2.0, 3.0])), [2.5, 2.0, 1.5])
    np.testing.assert_allclose(ratio_of_sums(arr, np.ones_like(arr)), [2.0, 1.0])
