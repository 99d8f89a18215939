"""A static, self-contained HTML page for a leaderboard file (``rmbench leaderboard render``).

No external assets: the CSS and the few lines of sorting JavaScript are inline, so the page can be
opened from disk, attached to a CI run or served from any static host. Every cell shows the value
with its confidence interval; a bar under the headline score draws the interval on a 0-100 scale.
Clicking a column header sorts by it (numbers by value; click again to reverse).
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1b1f24}
h1{font-size:1.4rem;margin-bottom:.2rem} p.meta{color:#57606a;margin-top:0}
table{border-collapse:collapse;font-size:.9rem} th,td{padding:.35rem .6rem;border-bottom:1px solid #d0d7de}
th{background:#f6f8fa;cursor:pointer;user-select:none;text-align:left;position:sticky;top:0}
th[aria-sort=ascending]::after{content:" \\25B2"} th[aria-sort=descending]::after{content:" \\25BC"}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap} td.ci small{color:#57606a}
.bar{position:relative;height:6px;background:#eaeef2;width:120px;margin-top:3px;border-radius:3px}
.bar span{position:absolute;height:6px;background:#54aeff;border-radius:3px}
.bar i{position:absolute;width:2px;height:10px;top:-2px;background:#0969da}
tr.tied td:first-child{color:#9a6700} footer{margin-top:1.5rem;color:#57606a;font-size:.8rem}
"""

_JS = """
document.querySelectorAll('table.lb').forEach(function(t){
  t.querySelectorAll('th').forEach(function(th,col){
    th.addEventListener('click',function(){
      var asc=th.getAttribute('aria-sort')!=='ascending';
      t.querySelectorAll('th').forEach(function(h){h.removeAttribute('aria-sort')});
      th.setAttribute('aria-sort',asc?'ascending':'descending');
      var body=t.tBodies[0], rows=Array.prototype.slice.call(body.rows);
      rows.sort(function(a,b){
        var x=a.cells[col].getAttribute('data-v'), y=b.cells[col].getAttribute('data-v');
        var nx=parseFloat(x), ny=parseFloat(y), r;
        if(!isNaN(nx)&&!isNaN(ny)){r=nx-ny}else if(isNaN(nx)!==isNaN(ny)){r=isNaN(nx)?1:-1}else{r=String(x).localeCompare(String(y))}
        return asc?r:-r;
      });
      rows.forEach(function(r){body.appendChild(r)});
    });
  });
});
"""


def _pts(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:.1f}"


def _score_cell(est: Mapping[str, Any] | None, bar: bool = False) -> str:
    if not est or est.get("value") is None:
        return '<td class="num" data-v="">n/a</td>'
    v, lo, hi = est["value"], est.get("low"), est.get("high")
    ci = f" <small>[{_pts(lo)}, {_pts(hi)}]</small>" if lo is not None and hi is not None else ""
    drawn = ""
    if bar and lo is not None and hi is not None:
        left, width = max(0.0, lo) * 100, max(0.5, (min(1.0, hi) - max(0.0, lo)) * 100)
        drawn = (f'<div class="bar" title="{_pts(lo)} to {_pts(hi)}"><span style="left:{left:.1f}%;width:{width:.1f}%">'
                 f'</span><i style="left:{v * 100:.1f}%"></i></div>')
    return f'<td class="num ci" data-v="{v:.6f}">{_pts(v)}{ci}{drawn}</td>'


def render_page(doc: Mapping[str, Any]) -> str:
    """The whole HTML document for a ``rmbench.leaderboard/1`` file."""
    task, metric = doc["task"], doc["task"]["primary_metric"]
    subsets = list(task.get("subsets") or [])
    for e in doc["entries"]:
        subsets += [s for s in e["subsets"] if s not in subsets]
    rk = doc.get("ranking", {})
    conf = int(round(float(rk.get("confidence", 0.95)) * 100))
    head = ["rank", "rank range", "model", "kind", f"{metric} ({conf}% CI)", "n", *subsets, "statistically tied with"]
    rows = []
    for e in doc["entries"]:
        lo, hi = e["rank_range"]
        cells = [
            f'<td class="num" data-v="{e["rank"]}">{e["rank"]}</td>',
            f'<td class="num" data-v="{lo + hi / 1000:.3f}">{lo if lo == hi else f"{lo}–{hi}"}</td>',
            f'<td data-v="{escape(e["name"])}"><b>{escape(e["name"])}</b>'
            + ("" if e.get("complete", True) else " <small>(partial run)</small>") + "</td>",
            f'<td data-v="{escape(str(e["model"]["kind"]))}">{escape(str(e["model"]["kind"]))}</td>',
            _score_cell(e["overall"]["metrics"].get(metric), bar=True),
            f'<td class="num" data-v="{e["overall"]["n_items"]}">{e["overall"]["n_items"]}</td>',
        ]
        cells += [_score_cell((e["subsets"].get(s) or {}).get("metrics", {}).get(metric)) for s in subsets]
        tied = ", ".join(e["tied_with"])
        cells.append(f'<td data-v="{len(e["tied_with"])}">{escape(tied) or "—"}</td>')
        rows.append(f'<tr class="{"tied" if lo != hi else ""}">' + "".join(cells) + "</tr>")
    title = f"{task['name']} v{task['version']} leaderboard"
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">Primary metric <b>{escape(metric)}</b>, in points with {conf}% bootstrap intervals. '
        f"Data fingerprint <code>{escape(doc['data_fingerprint'])}</code>. Entries are statistically tied when a "
        f"paired bootstrap of their difference ({rk.get('n_resamples', '?')} resamples) includes 0; the rank range "
        "says which ranks the data allow. Click a column to sort.</p>",
        '<table class="lb"><thead><tr>' + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr></thead>",
        "<tbody>", *rows, "</tbody></table>",
        f"<footer>{escape(doc.get('generated_by', 'rmbench'))}; schema {escape(doc['schema'])}. "
        "Recheck every number with <code>rmbench leaderboard verify</code>.</footer>",
        f"<script>{_JS}</script></body></html>",
    ]) + "\n"
