"""A static, self-contained HTML page for leaderboard files (``rmbench leaderboard render``).

One section per leaderboard file: a sortable table (click a header; click again to reverse) with the
primary metric and its interval bar, the rank range, section and subset columns (each cell's
interval in its ``title`` tooltip), a plotly figure of every entry's score with its interval and the
length baseline beside it, and a panel per entry (click its row, or open its ``details``) with the
manifest: data fingerprint, model hashes, rmbench version, run-file hashes and the command that
recomputes every number. The HTML comes from ``templates/leaderboard.html.j2``; the plots and the
plotly.js bundle are inline, so the page works from disk with no network access.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

_PROVENANCE_LABELS = {
    "weights_sha256": "weights sha256",
    "chat_template_sha256": "chat template sha256",
    "tokenizer_sha256": "tokenizer sha256",
    "revision": "model revision",
    "rmbench_version": "rmbench version (run)",
}


@dataclass(frozen=True)
class Cell:
    """A table cell: ``text`` shown, ``sort`` the key the sort script reads ("" = missing, sorts last)."""

    text: str
    sort: str
    title: str = ""
    ci: str = ""
    bar: tuple[float, float, float] | None = None  # low, width, value in percent of the bar
    css: str = ""


@dataclass(frozen=True)
class Column:
    label: str
    group: str = ""  # "section" | "subset" | ""
    numeric: bool = True


@dataclass
class Row:
    name: str
    cells: list[Cell]
    tied: bool
    run_dir: str = ""
    panel: list[tuple[str, str]] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)


@dataclass
class Board:
    key: str
    title: str
    meta: dict[str, Any]
    columns: list[Column]
    rows: list[Row]
    plot_html: str
    json_text: str
    source: str


def _pts(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:.1f}"


def score_cell(est: Mapping[str, Any] | None, conf: int, *, bar: bool = False) -> Cell:
    """A score with its interval: the text, a tooltip naming the interval and ``n``, an optional bar."""
    if not est or est.get("value") is None:
        return Cell("n/a", "", title="undefined on these items")
    v, lo, hi, n = est["value"], est.get("low"), est.get("high"), est.get("n")
    known = lo is not None and hi is not None
    title = f"{_pts(v)} points, {conf}% CI " + (f"{_pts(lo)} to {_pts(hi)}" if known else "not available")
    title += f", n = {n}" if n is not None else ""
    drawn = None
    if bar and lo is not None and hi is not None:
        left = max(0.0, float(lo)) * 100
        drawn = (left, max(0.5, min(1.0, float(hi)) * 100 - left), min(100.0, max(0.0, float(v) * 100)))
    return Cell(_pts(v), f"{v:.6f}", title=title, ci=f"[{_pts(lo)}, {_pts(hi)}]" if known else "", bar=drawn,
                css="ci")


def _subsets(doc: Mapping[str, Any]) -> list[str]:
    subsets = list(doc["task"].get("subsets") or [])
    for e in doc["entries"]:
        subsets += [s for s in e["subsets"] if s not in subsets]
    return subsets


def _sections(doc: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for e in doc["entries"]:
        out += [s for s in (e.get("sections") or {}) if s not in out]
    return out


def _panel(doc: Mapping[str, Any], e: Mapping[str, Any]) -> list[tuple[str, str]]:
    prov = e.get("provenance") or {}
    rows = [("model", str(e["model"].get("id"))), ("kind", str(e["model"].get("kind"))),
            ("run directory", e["run_dir"]), ("complete", "yes" if e.get("complete", True) else "no (partial run)"),
            ("data fingerprint", doc["data_fingerprint"])]
    rows += [(label, prov.get(key) or "not recorded") for key, label in _PROVENANCE_LABELS.items()
             if key in prov or key in ("weights_sha256", "chat_template_sha256", "rmbench_version")]
    rows += [(k.replace("_sha256", " sha256").replace("_", "."), v) for k, v in e.get("manifest", {}).items()]
    rows += [("settings", ", ".join(f"{k}={v}" for k, v in e.get("config", {}).items())),
             ("leaderboard written by", str(doc.get("generated_by", "?")))]
    return rows


def _row(doc: Mapping[str, Any], e: Mapping[str, Any], sections: list[str], subsets: list[str], conf: int,
         source: str) -> Row:
    metric = doc["task"]["primary_metric"]
    lo, hi = e["rank_range"]
    name = e["name"]
    cells = [
        Cell(str(e["rank"]), str(e["rank"])),
        Cell(str(lo) if lo == hi else f"{lo}–{hi}", f"{lo + hi / 1000:.3f}", title="ranks the data allow"),
        Cell(name + ("" if e.get("complete", True) else " (partial run)"), name, css="name"),
        Cell(str(e["model"].get("kind")), str(e["model"].get("kind"))),
        score_cell(e["overall"]["metrics"].get(metric), conf, bar=True),
        Cell(str(e["overall"]["n_items"]), str(e["overall"]["n_items"])),
        *(score_cell(((e.get("sections") or {}).get(s) or {}).get("metrics", {}).get(metric), conf)
          for s in sections),
        *(score_cell((e["subsets"].get(s) or {}).get("metrics", {}).get(metric), conf) for s in subsets),
        Cell(", ".join(e["tied_with"]) or "—", str(len(e["tied_with"])), css="tied"),
    ]
    commands = [f"rmbench leaderboard verify {source} --runs-root RUNS_ROOT",
                f"rmbench report RUNS_ROOT/{e['run_dir']}"]
    return Row(name, cells, tied=lo != hi, run_dir=e["run_dir"], panel=_panel(doc, e), commands=commands)


def board(doc: Mapping[str, Any], key: str, source: str, *, with_plotlyjs: bool) -> Board:
    """Everything the template needs for one leaderboard file (``key``: unique id on the page)."""
    from rmbench.reports.leaderboard_plots import figure_html

    task, metric = doc["task"], doc["task"]["primary_metric"]
    rk = doc.get("ranking", {})
    conf = int(round(float(rk.get("confidence", 0.95)) * 100))
    sections, subsets = _sections(doc), _subsets(doc)
    columns = [Column("rank"), Column("rank range"), Column("model", numeric=False), Column("kind", numeric=False),
               Column(f"{metric} ({conf}% CI)"), Column("n"), *(Column(s, "section") for s in sections),
               *(Column(s, "subset") for s in subsets), Column("statistically tied with")]
    rows = [_row(doc, e, sections, subsets, conf, source) for e in doc["entries"]]
    meta = {"task": task["name"], "version": task["version"], "metric": metric, "conf": conf,
            "fingerprint": doc["data_fingerprint"], "n_resamples": rk.get("n_resamples", "?"),
            "method": rk.get("method", "?"), "schema": doc["schema"], "generated_by": doc.get("generated_by", "rmbench"),
            "n_entries": len(rows)}
    text = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").replace("</", "<\\/")  # as the file is written
    return Board(key, f"{task['name']} v{task['version']}", meta, columns, rows,
                 figure_html(doc, f"plot-{key}", with_plotlyjs=with_plotlyjs), text, source)


def render_page(docs: Mapping[str, Any] | Sequence[Mapping[str, Any]], sources: Sequence[str] | None = None) -> str:
    """The whole HTML document for one or more ``rmbench.leaderboard/1`` documents; ``sources`` are the
    files they came from (shown in the recompute commands). Needs plotly (``rmbench[page]``)."""
    from rmbench.reports.leaderboard_plots import require_plotly

    require_plotly()
    docs = [docs] if isinstance(docs, Mapping) else list(docs)
    sources = list(sources) if sources is not None else [f"leaderboards/{d['task']['name']}.json" for d in docs]
    boards = [board(d, f"t{i}", src, with_plotlyjs=i == 0) for i, (d, src) in enumerate(zip(docs, sources, strict=True))]
    return _template().render(boards=boards, title=_page_title(boards))


def _page_title(boards: Sequence[Board]) -> str:
    return (f"{boards[0].title} leaderboard" if len(boards) == 1 else "rmbench leaderboards") if boards else "leaderboard"


def _template() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("rmbench.reports", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env.get_template("leaderboard.html.j2")
