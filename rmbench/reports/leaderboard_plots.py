"""One plotly figure per leaderboard: each entry's primary metric with its interval, and the
response-length baseline graded on the same items beside it (``docs/leaderboard.md``, "The page").

plotly is an optional dependency (``pip install 'rmbench[page]'``), imported only here and only when
a page is rendered. The first figure of a page carries the whole plotly.js bundle inline
(``include_plotlyjs=True``), so the page draws its plots without any network access.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rmbench.errors import UserError

LENGTH_BASELINE = "length"
_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["sendDataToCloud"]}


def require_plotly() -> Any:
    """``plotly.graph_objects``, or a :class:`UserError` saying how to install it."""
    try:
        import plotly.graph_objects as go
    except ImportError:
        raise UserError("the leaderboard page draws its plots with plotly, which is not installed",
                        hint="pip install 'rmbench[page]'") from None
    return go


def _points(x: float | None) -> float | None:
    return None if x is None else round(100 * float(x), 4)


def interval_series(estimates: Sequence[Mapping[str, Any] | None]) -> dict[str, list[float | None]]:
    """Values, interval bounds and error-bar lengths (above, below) in points; ``None`` where undefined."""
    out: dict[str, list[float | None]] = {"value": [], "low": [], "high": [], "plus": [], "minus": []}
    for est in estimates:
        est = est or {}
        v, lo, hi = _points(est.get("value")), _points(est.get("low")), _points(est.get("high"))
        out["value"].append(v)
        out["low"].append(lo)
        out["high"].append(hi)
        known = None not in (v, lo, hi)
        out["plus"].append(hi - v if known else None)  # type: ignore[operator]
        out["minus"].append(v - lo if known else None)  # type: ignore[operator]
    return out


def _trace(go: Any, names: list[str], estimates: Sequence[Mapping[str, Any] | None], label: str,
           metric: str, color: str) -> Any:
    s = interval_series(estimates)
    return go.Bar(
        name=label, x=names, y=s["value"], marker_color=color,
        error_y={"type": "data", "symmetric": False, "array": s["plus"], "arrayminus": s["minus"],
                 "color": "#1b1f24", "thickness": 1.2, "width": 4},
        customdata=list(zip(s["low"], s["high"], strict=True)),
        hovertemplate=f"%{{x}}<br>{metric} %{{y:.1f}} [%{{customdata[0]:.1f}}, %{{customdata[1]:.1f}}]"
                      f"<extra>{label}</extra>",
    )


def figure(doc: Mapping[str, Any]) -> Any:
    """The plotly figure of one leaderboard (entries in rank order)."""
    go = require_plotly()
    metric = doc["task"]["primary_metric"]
    conf = int(round(float(doc.get("ranking", {}).get("confidence", 0.95)) * 100))
    names = [e["name"] for e in doc["entries"]]
    fig = go.Figure()
    fig.add_trace(_trace(go, names, [e["overall"]["metrics"].get(metric) for e in doc["entries"]],
                         "model", metric, "#54aeff"))
    baselines = [(e.get("baselines") or {}).get(LENGTH_BASELINE, {}).get(metric) for e in doc["entries"]]
    if any(b is not None for b in baselines):
        fig.add_trace(_trace(go, names, baselines, "length baseline (same items)", metric, "#d0d7de"))
    fig.update_layout(
        barmode="group", height=380, margin={"l": 50, "r": 20, "t": 70, "b": 90},
        title={"text": f"{doc['task']['name']}: {metric} (points, {conf}% CI)", "font": {"size": 14}, "x": 0.01,
               "y": 0.97},
        yaxis={"title": {"text": f"{metric} (points)"}, "rangemode": "tozero"},
        legend={"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        plot_bgcolor="#ffffff", paper_bgcolor="#ffffff",
    )
    fig.update_yaxes(gridcolor="#eaeef2")
    return fig


def figure_html(doc: Mapping[str, Any], div_id: str, *, with_plotlyjs: bool) -> str:
    """The figure as an HTML fragment (a ``div`` and its script); ``with_plotlyjs``: inline the bundle."""
    import plotly.io as pio

    return str(pio.to_html(figure(doc), full_html=False, include_plotlyjs=with_plotlyjs, div_id=div_id,
                           config=_CONFIG, default_height="380px"))
