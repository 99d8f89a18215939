"""The one number formatter of the reports: estimates with their intervals, fractions as points, p-values.

Every view (``report.md``, the terminal tables, compare / gate / agree / leaderboard) formats an
estimate dict (``value``, ``low``, ``high``; see :class:`rmbench.stats.estimates.Estimate`) here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def pct(x: float | None, signed: bool = False) -> str:
    """A fraction as percentage points with one decimal; ``n/a`` for ``None``.

    >>> pct(0.7125), pct(-0.02, signed=True), pct(None)
    ('71.2', '-2.0', 'n/a')
    """
    if x is None:
        return "n/a"
    return f"{x * 100:+.1f}" if signed else f"{x * 100:.1f}"


def fmt_interval(est: Mapping[str, Any] | None, *, percent: bool = True, signed: bool = False) -> str:
    """``71.2 [65.0, 77.1]`` from an estimate: percentage points with one decimal (``percent``, the
    default), else the raw value with three; ``signed`` puts a sign on differences. The value alone
    when the interval is undefined, ``n/a`` when the value is.

    >>> fmt_interval({"value": 0.712, "low": 0.65, "high": 0.771})
    '71.2 [65.0, 77.1]'
    >>> fmt_interval({"value": 0.03, "low": -0.01, "high": 0.07}, signed=True)
    '+3.0 [-1.0, +7.0]'
    >>> fmt_interval({"value": 0.4123, "low": None, "high": None}, percent=False), fmt_interval(None)
    ('0.412', 'n/a')
    """
    if not est or est.get("value") is None:
        return "n/a"

    def num(x: float) -> str:
        return pct(x, signed) if percent else (f"{x:+.3f}" if signed else f"{x:.3f}")

    if est.get("low") is None or est.get("high") is None:
        return num(est["value"])
    return f"{num(est['value'])} [{num(est['low'])}, {num(est['high'])}]"


def fmt_p(p: float | None) -> str:
    """A p-value with three decimals, ``<0.001`` below that, ``n/a`` for ``None``."""
    if p is None:
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"
