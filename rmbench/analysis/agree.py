"""Agreement between raters (reward models, judges, classifiers) on the same items (``rmbench agree``).

Every run is a rater. The runs must share task, task version and data fingerprint; only the items
scored by **every** run are used (the others are counted and reported).

How a run exposes a per-item label (first rule that applies)
------------------------------------------------------------
1. the item is invalid (``invalid > 0``) -> ``"invalid"``;
2. ``scores["label"]``, else ``scores["verdict"]``, when present -> that value as a string
   (classifiers, external labels);
3. a generative judge's ``scores["judge"]`` block (:mod:`rmbench.adapters.judge.modes`):

   - ``pairwise``: each pair's pick (``"chosen"`` / ``"rejected"`` / ``"tie"``); when the pair was
     asked in both orders and the picks differ, ``"inconsistent"`` (position bias shows up in the
     confusion tables); several pairs (multi-response items) are joined with ``"|"``;
   - ``listwise``: ``"response[k]"``, the picked response (``k`` counts the correct responses, then
     the incorrect ones), or ``"inconsistent"`` when rotations disagree;
   - ``rating``: the ratings are read like reward scores (rules 4 and 5); a single rated response
     (pointwise) gives the rating itself;
   - ``verify`` and ``segments``: the verdicts (``YES`` / ``NO``), joined with ``"|"``;

4. numeric ``scores["chosen"]`` and ``scores["rejected"]`` (pairwise reward runs) -> the predicted
   preference: ``"chosen"`` when chosen > rejected, ``"rejected"`` when <, ``"tie"`` when equal;
5. lists ``scores["correct"]`` and ``scores["incorrect"]`` (multi-response runs) -> the response the
   rater ranks first, ``"response[k]"`` as in rule 3, or ``"tie"`` when the top score is shared;
6. anything else (missing or non-finite scores, an unanswered judge question) -> ``"invalid"``.

``"invalid"`` labels appear in the confusion tables but are left out of Cohen's kappa (per pair) and
Fleiss' kappa (items where any rater is invalid); the counts left out are reported.

What is reported
----------------
* pairwise Cohen's kappa with a bootstrap CI and its Landis & Koch band; percent agreement;
* Fleiss' kappa over all raters;
* confusion tables: counts of each (label of rater i, label of rater j) pair;
* each rater's primary metric (e.g. accuracy against the gold label) with a bootstrap CI;
* subsets ranked by the primary metric under each rater, and Spearman / Kendall tau-b between
  raters' subset rankings (how much the choice of rater reorders the subsets);
* the sensitivity range: min and max of the headline rate across raters.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rmbench.analysis.pairing import LoadedRun, check_same_data, task_identity, unique_names
from rmbench.datatypes import ItemResult
from rmbench.errors import UserError
from rmbench.reports.numbers import fmt_interval, pct
from rmbench.stats.correlation import subset_ranks
from rmbench.stats.seeds import derived_rng

AGREE_SCHEMA = "rmbench.agree/1"
INVALID = "invalid"


def _num(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        return None
    return float(x)


def _preference(chosen: Any, rejected: Any) -> str:
    c, r = _num(chosen), _num(rejected)
    if c is None or r is None:
        return INVALID
    return "chosen" if c > r else "rejected" if c < r else "tie"


def _top(values: Sequence[Any]) -> str:
    """``response[k]`` for the highest of ``values`` (correct responses first), ``tie`` if shared."""
    nums = [_num(v) for v in values]
    if not nums or any(v is None for v in nums):
        return INVALID
    top = max(nums)  # type: ignore[type-var]
    best = [k for k, v in enumerate(nums) if v == top]
    return f"response[{best[0]}]" if len(best) == 1 else "tie"


def _agreed(values: Sequence[Any]) -> str:
    if not values or any(v is None for v in values):
        return INVALID
    return str(values[0]) if len(set(values)) == 1 else "inconsistent"


def _judge_label(block: Mapping[str, Any]) -> str:
    """Rule 3 of the module docstring."""
    mode, asks = block.get("mode"), list(block.get("asks") or [])
    if not asks:
        return INVALID
    if mode == "pairwise":
        groups: dict[str, list[Any]] = {}
        for rec in asks:
            groups.setdefault(str(rec.get("pair")), []).append(rec.get("picked"))
        parts = [_agreed(picks) for picks in groups.values()]
        return INVALID if INVALID in parts else "|".join(parts)
    if mode == "listwise":
        picked = _agreed([rec.get("picked") for rec in asks])
        return picked if picked in (INVALID, "inconsistent") else f"response[{picked}]"
    if mode == "rating":
        ratings = {str(rec.get("key")): rec.get("verdict") for rec in asks}
        if set(ratings) == {"chosen", "rejected"}:
            return _preference(ratings["chosen"], ratings["rejected"])
        if len(ratings) == 1:
            return _agreed(list(ratings.values()))
        order = sorted(ratings, key=lambda k: (k[0] != "c", int(k[1:]) if k[1:].isdigit() else 0))
        return _top([ratings[k] for k in order])
    verdicts = [rec.get("verdict") for rec in asks]
    return INVALID if any(v is None for v in verdicts) else "|".join(str(v) for v in verdicts)


def item_label(item: ItemResult) -> str:
    """The label a rater gave one item (rules in the module docstring).

    >>> from rmbench.datatypes import ItemResult
    >>> item_label(ItemResult("1", "s", "1", "h", {}, {"chosen": 0.2, "rejected": 0.7}))
    'rejected'
    >>> item_label(ItemResult("1", "s", "1", "h", {}, {"correct": [1.0], "incorrect": [3.0, 2.0]}))
    'response[1]'
    """
    s = item.scores
    if item.invalid:
        return INVALID
    for key in ("label", "verdict"):
        if s.get(key) is not None:
            return str(s[key])
    if isinstance(s.get("judge"), Mapping):
        return _judge_label(s["judge"])
    if "chosen" in s and "rejected" in s:
        return _preference(s["chosen"], s["rejected"])
    if isinstance(s.get("correct"), list) and isinstance(s.get("incorrect"), list):
        return _top([*s["correct"], *s["incorrect"]])
    return INVALID


def confusion(a: Sequence[str], b: Sequence[str]) -> dict[str, dict[str, int]]:
    """``{label_a: {label_b: count}}`` over all label pairs that occur (rows and columns sorted)."""
    labels = sorted(set(a) | set(b))
    counts = Counter(zip(a, b, strict=True))
    return {x: {y: counts.get((x, y), 0) for y in labels} for x in labels}


@dataclass(frozen=True)
class Agreement:
    """The result of :func:`agree` (see :meth:`to_dict`)."""

    task: dict[str, Any]
    metric: str
    raters: list[dict[str, Any]]
    n_items: int
    excluded_not_common: int
    pairs: list[dict[str, Any]]
    fleiss: dict[str, Any]
    subsets: dict[str, Any]
    sensitivity: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"schema": AGREE_SCHEMA, **self.__dict__}


def agree(runs: Sequence[LoadedRun], *, n_resamples: int = 2000, confidence: float = 0.95,
          metric: str | None = None) -> Agreement:
    """Agreement statistics for two or more runs on the same items.

    ``n_resamples`` and ``confidence`` are for the kappa intervals; each rater's rates come from
    :func:`rmbench.results.summary.compute_results` on the common items, with that run's own settings.
    """
    from rmbench.stats import cohen_kappa_ci, fleiss_kappa_from_ratings, percent_agreement

    if len(runs) < 2:
        raise UserError("rmbench agree needs at least two runs")
    check_same_data([(str(r.path), r.run) for r in runs])
    metric = metric or runs[0].primary_metric
    names = unique_names(runs)
    common = sorted(set.intersection(*(set(r.items) for r in runs)))
    if not common:
        raise UserError("the runs have no scored item in common")
    for i in common:
        if len({r.items[i].example_hash for r in runs}) > 1:
            raise UserError(f"item '{i}' has different content in different runs (example_hash differs)")
    excluded = len(set().union(*(set(r.items) for r in runs))) - len(common)
    labels = [[item_label(r.items[i]) for i in common] for r in runs]
    seeds = [r.seed for r in runs]

    pairs = []
    for x in range(len(runs)):
        for y in range(x + 1, len(runs)):
            keep = [k for k in range(len(common)) if INVALID not in (labels[x][k], labels[y][k])]
            la, lb = [labels[x][k] for k in keep], [labels[y][k] for k in keep]
            kap = (cohen_kappa_ci(la, lb, derived_rng(seeds, "kappa", names[x], names[y]), n_resamples=n_resamples,
                                  confidence=confidence).to_dict() if keep else None)
            pairs.append({
                "a": names[x], "b": names[y], "n": len(keep), "left_out_invalid": len(common) - len(keep),
                "kappa": kap, "percent_agreement": percent_agreement(la, lb) if keep else None,
                "confusion": confusion(labels[x], labels[y]),
            })
    keep_all = [k for k in range(len(common)) if all(lab[k] != INVALID for lab in labels)]
    fleiss = {"n": len(keep_all), "left_out_invalid": len(common) - len(keep_all),
              "kappa": fleiss_kappa_from_ratings([[lab[k] for lab in labels] for k in keep_all]) if keep_all else None}

    results = [_results(run, common) for run in runs]
    raters = [
        {"name": name, **run.describe(), "rate": _estimate(res["overall"], metric), "labels": dict(Counter(run_labels))}
        for name, run, run_labels, res in zip(names, runs, labels, results, strict=True)
    ]
    subsets = _subset_rankings(runs, names, results, metric)
    values = [(r["name"], r["rate"]["value"]) for r in raters if r["rate"].get("value") is not None]
    sens: dict[str, Any] = {"min": None, "max": None, "range": None}
    if values:
        lo, hi = min(values, key=lambda t: t[1]), max(values, key=lambda t: t[1])
        sens = {"min": lo[1], "max": hi[1], "range": hi[1] - lo[1], "min_rater": lo[0], "max_rater": hi[0]}
    return Agreement(task_identity(runs[0].run), metric, raters, len(common), excluded, pairs, fleiss, subsets, sens)


def _results(run: LoadedRun, ids: Sequence[str]) -> dict[str, Any]:
    """The run's summary numbers (``compute_results``) restricted to the common items: per-item means and
    aggregate metrics (F1 from summed counts, per-cluster metrics) alike, with the run's own CI settings."""
    from rmbench.results.summary import compute_results

    return compute_results(run.run, [run.items[i] for i in ids])


def _estimate(block: Mapping[str, Any], metric: str) -> dict[str, Any]:
    est = (block.get("metrics") or {}).get(metric)
    return dict(est) if est else {"value": None, "low": None, "high": None, "n": 0}


def _subset_rankings(runs: Sequence[LoadedRun], names: Sequence[str], results: Sequence[Mapping[str, Any]],
                     metric: str) -> dict[str, Any]:
    """Per-subset rates under each rater, their ranks, and rank correlations between raters."""
    from rmbench.stats import kendall_tau_b, spearman

    present = set(results[0]["subsets"])
    order = [*(runs[0].run["data"].get("subsets") or []), *sorted(present)]
    subsets = [s for s in dict.fromkeys(order) if s in present]
    rates: dict[str, dict[str, float | None]] = {
        name: {s: _estimate(res["subsets"].get(s, {}), metric)["value"] for s in subsets}
        for name, res in zip(names, results, strict=True)
    }
    ranks = {n: subset_ranks(r) for n, r in rates.items()}
    corr = []
    for x in range(len(names)):
        for y in range(x + 1, len(names)):
            shared = [s for s in subsets if s in ranks[names[x]] and s in ranks[names[y]]]
            rx = [rates[names[x]][s] for s in shared]
            ry = [rates[names[y]][s] for s in shared]
            rho: tuple[float | None, float | None] = (None, None)
            tau: tuple[float | None, float | None] = (None, None)
            if len(shared) >= 2:
                rho, tau = spearman(rx, ry), kendall_tau_b(rx, ry)
            corr.append({"a": names[x], "b": names[y], "n_subsets": len(shared), "spearman": rho[0],
                         "spearman_p": rho[1], "kendall_tau_b": tau[0], "kendall_p": tau[1]})
    return {"names": subsets, "rates": rates, "ranks": ranks, "correlations": corr}


# ---------------------------------------------------------------------------------- rendering


def _f(x: float | None, digits: int = 2) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _kappa_cell(p: Mapping[str, Any]) -> str:
    k = p.get("kappa")
    if not k or k.get("kappa") is None:
        return "undefined" + (f" ({k['undefined_reason']})" if k and k.get("undefined_reason") else "")
    ci = f" [{_f(k['low'])}, {_f(k['high'])}]" if k.get("low") is not None else ""
    return f"{_f(k['kappa'])}{ci} {k['band']}"


def render_markdown(ag: Agreement) -> str:
    names = [r["name"] for r in ag.raters]
    lines = [f"# Agreement: {ag.task['task']} v{ag.task['task version']} ({len(names)} raters, {ag.n_items} items)", ""]
    if ag.excluded_not_common:
        lines += [f"{ag.excluded_not_common} item(s) not scored by every run were excluded.", ""]
    lines += ["## Cohen's kappa (95% bootstrap CI, Landis & Koch band)", "",
              "| | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 1)]
    by_pair = {(p["a"], p["b"]): p for p in ag.pairs}
    for a in names:
        cells = []
        for b in names:
            p = by_pair.get((a, b)) or by_pair.get((b, a))
            cells.append("—" if a == b else _kappa_cell(p) if p else "")
        lines.append(f"| {a} | " + " | ".join(cells) + " |")
    lines += ["", f"Fleiss' kappa over all raters: **{_f(ag.fleiss['kappa'])}** (n = {ag.fleiss['n']}"
              + (f", {ag.fleiss['left_out_invalid']} with an invalid label left out" if ag.fleiss["left_out_invalid"] else "")
              + ")", "", f"## {ag.metric} per rater", "", f"| rater | {ag.metric} (CI) | labels |", "|---|---|---|"]
    for r in ag.raters:
        lines.append(f"| {r['name']} | {fmt_interval(r['rate'])} | "
                     + ", ".join(f"{k}: {v}" for k, v in sorted(r["labels"].items())) + " |")
    s = ag.sensitivity
    if s.get("range") is not None:
        lines += ["", f"Sensitivity range of {ag.metric}: {pct(s['min'])} ({s['min_rater']}) to {pct(s['max'])} "
                  f"({s['max_rater']}), a spread of **{pct(s['range'])} points**."]
    lines += ["", "## Confusion tables (rows: first rater, columns: second rater)"]
    for p in ag.pairs:
        cols = list(p["confusion"])
        lines += ["", f"**{p['a']}** vs **{p['b']}** (agreement {pct(p['percent_agreement'])}%)", "",
                  "| | " + " | ".join(cols) + " |", "|" + "---|" * (len(cols) + 1)]
        lines += [f"| {row} | " + " | ".join(str(p["confusion"][row][c]) for c in cols) + " |" for row in cols]
    sub = ag.subsets
    if len(sub["names"]) > 1:
        lines += ["", f"## Subsets ranked by {ag.metric} under each rater (1 = highest)", "",
                  "| subset | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 1)]
        for sname in sub["names"]:
            cells = [f"{_f(sub['ranks'][n].get(sname), 1)} ({pct(sub['rates'][n].get(sname))})" for n in names]
            lines.append(f"| {sname} | " + " | ".join(cells) + " |")
        lines += ["", "| raters | subsets | Spearman rho (p) | Kendall tau-b (p) |", "|---|---|---|---|"]
        for c in sub["correlations"]:
            lines.append(f"| {c['a']} vs {c['b']} | {c['n_subsets']} | {_f(c['spearman'])} ({_f(c['spearman_p'], 3)}) "
                         f"| {_f(c['kendall_tau_b'])} ({_f(c['kendall_p'], 3)}) |")
    return "\n".join(lines) + "\n"


def render_terminal(ag: Agreement) -> Any:
    from rich.console import Group
    from rich.markup import escape
    from rich.table import Table

    names = [escape(r["name"]) for r in ag.raters]
    kt = Table(title=f"Cohen's kappa — {ag.task['task']}, {ag.n_items} items")
    kt.add_column("")
    for n in names:
        kt.add_column(n, justify="right")
    by_pair = {(escape(p["a"]), escape(p["b"])): p for p in ag.pairs}
    for a in names:
        kt.add_row(a, *["—" if a == b else _kappa_cell(by_pair.get((a, b)) or by_pair[(b, a)]) for b in names])
    rt = Table(title=f"{ag.metric} per rater; Fleiss' kappa {_f(ag.fleiss['kappa'])}; "
                     f"sensitivity range {pct(ag.sensitivity.get('range'))} points")
    for h in ("rater", f"{ag.metric} (CI)", "labels"):
        rt.add_column(h)
    for r in ag.raters:
        rt.add_row(escape(r["name"]), fmt_interval(r["rate"]), ", ".join(f"{k}: {v}" for k, v in sorted(r["labels"].items())))
    return Group(kt, rt)
