"""The resampling engines behind :mod:`rmbench.stats.bootstrap` and the kappa intervals of
:mod:`rmbench.stats.agreement`: index matrices, exact multinomial draws for statistics of column
totals (:class:`SumStatistic`), and the jackknife. See :mod:`rmbench.stats.bootstrap` for the statistic
protocol and references.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

Statistic = Callable[..., np.ndarray]

# Elements per index-matrix chunk: an intp index (8 bytes; np.take would copy
# narrower indices to intp anyway) plus the gathered values (1-8 bytes), i.e.
# roughly 70-130 MB per worker thread.
CHUNK_ELEMENTS = 1 << 23


class SumStatistic:
    """A statistic that depends on a resample only through column totals.

    ``func(totals, m)`` receives a list with one array of shape ``(B,)`` per
    data argument (the totals of each resample) and the resample size ``m``
    and returns shape ``(B,)``.  Calling the object with resampled arrays of
    shape ``(B, m)`` sums them and applies ``func``.

    >>> s = SumStatistic(lambda t, m: t[0] / m, "mean")
    >>> s(np.array([[1.0, 2.0, 3.0]]))
    array([2.])
    """

    def __init__(self, func: Callable[[list[np.ndarray], int], np.ndarray], name: str):
        self.func = func
        self.name = name

    def __repr__(self) -> str:
        return f"SumStatistic({self.name})"

    def __call__(self, *arrays: np.ndarray) -> np.ndarray:
        m = arrays[0].shape[-1]
        return np.asarray(self.func([np.sum(a, axis=-1) for a in arrays], m))

    def from_totals(self, totals: list[np.ndarray], m: int) -> np.ndarray:
        """Evaluate from precomputed totals (used by the multinomial engine)."""
        return np.asarray(self.func(totals, m))

    def jackknife(self, *arrays: np.ndarray) -> np.ndarray:
        """Leave-one-row-out values for 1-D data arrays of length ``m``."""
        m = arrays[0].shape[0]
        loo = [np.sum(a) - a for a in arrays]
        return np.asarray(self.func(loo, m - 1))


mean_statistic = SumStatistic(lambda t, m: t[0] / m, "mean")
"""Vectorised mean over the last axis: ``x.sum(-1) / m``."""

ratio_of_sums = SumStatistic(lambda t, m: t[0] / t[1], "ratio_of_sums")
"""``sum(num) / sum(den)`` per resample (clustered accuracy: correct / items)."""


def check_args(n_resamples: int, confidence: float, engine: str) -> int:
    """Validate the common bootstrap options; return ``n_resamples`` as int."""
    if engine not in ("auto", "index", "multinomial"):
        raise ValueError(f"engine must be 'auto', 'index' or 'multinomial', got {engine!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if isinstance(n_resamples, bool) or int(n_resamples) != n_resamples or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples}")
    return int(n_resamples)


def child_rngs(rng: np.random.Generator, k: int) -> list[np.random.Generator]:
    """``k`` independent generators derived deterministically from ``rng``."""
    seed = np.random.SeedSequence([int(v) for v in rng.integers(0, 2**32, size=4)])
    return [np.random.default_rng(s) for s in seed.spawn(k)]


def index_engine(
    arrays: list[np.ndarray],
    statistic: Statistic,
    rng: np.random.Generator,
    n_resamples: int,
    n_jobs: int,
) -> np.ndarray:
    m = len(arrays[0])
    chunk = max(1, min(n_resamples, CHUNK_ELEMENTS // m))
    starts = list(range(0, n_resamples, chunk))
    rngs = child_rngs(rng, len(starts))
    out = np.empty(n_resamples, dtype=np.float64)

    def run(job: int) -> None:
        lo = starts[job]
        hi = min(lo + chunk, n_resamples)
        idx = rngs[job].integers(0, m, size=(hi - lo, m), dtype=np.intp)
        res = np.asarray(statistic(*[np.take(a, idx) for a in arrays]), dtype=np.float64)
        if res.shape != (hi - lo,):
            raise ValueError(
                f"statistic must return shape (B,) = ({hi - lo},), got {res.shape}; "
                "it receives arrays with a leading resample axis"
            )
        out[lo:hi] = res

    if n_jobs > 1 and len(starts) > 1:
        with ThreadPoolExecutor(max_workers=min(n_jobs, len(starts))) as pool:
            list(pool.map(run, range(len(starts))))
    else:
        for job in range(len(starts)):
            run(job)
    return out


def multinomial_map(
    rng: np.random.Generator,
    m: int,
    pvals: np.ndarray,
    n_resamples: int,
    func: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """Apply ``func`` to chunks of ``Multinomial(m, pvals)`` count vectors (rows)."""
    chunk = max(1, CHUNK_ELEMENTS // len(pvals))
    out = np.empty(n_resamples, dtype=np.float64)
    for lo in range(0, n_resamples, chunk):
        c = min(chunk, n_resamples - lo)
        out[lo : lo + c] = func(rng.multinomial(m, pvals, size=c))
    return out


def multinomial_engine(
    arrays: list[np.ndarray],
    statistic: SumStatistic,
    rng: np.random.Generator,
    n_resamples: int,
    rows: np.ndarray,
    counts: np.ndarray,
) -> np.ndarray:
    m = len(arrays[0])

    def evaluate(draws: np.ndarray) -> np.ndarray:
        totals = draws.astype(np.float64) @ rows  # (chunk, p) column totals
        return statistic.from_totals([totals[:, j] for j in range(rows.shape[1])], m)

    return multinomial_map(rng, m, counts / m, n_resamples, evaluate)


def jackknife_values(arrays: list[np.ndarray], statistic: Statistic) -> np.ndarray:
    """Leave-one-out values of ``statistic`` (closed form when available)."""
    jk = getattr(statistic, "jackknife", None)
    if callable(jk):
        return np.asarray(jk(*arrays), dtype=np.float64)
    m = len(arrays[0])
    chunk = max(1, CHUNK_ELEMENTS // m)
    out = np.empty(m, dtype=np.float64)
    base = np.arange(m - 1)
    for lo in range(0, m, chunk):
        left_out = np.arange(lo, min(lo + chunk, m))
        idx = base[None, :] + (base[None, :] >= left_out[:, None])
        out[lo : lo + len(left_out)] = statistic(*[np.take(a, idx) for a in arrays])
    return out
