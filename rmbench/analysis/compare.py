"""Paired comparison of two runs of one task on the same items (``rmbench compare RUN_A RUN_B``).

The rules, in the order they are applied:

* **Same data.** Both runs must have the same task name, task version and data fingerprint
  (``run.json``); anything else is refused with a :class:`~rmbench.errors.UserError`. An item id
  present in both runs with a different ``example_hash`` is refused too.
* **Alignment by id.** Items present in only one run (an interrupted run, a different ``--subset``)
  are listed and excluded. Items whose primary metric is ``None`` in either run (tie or invalid
  policy ``exclude``) are excluded from that row and counted (``excluded_undefined``).
* **Per row** (every subset, then ``overall``), on the task's primary metric:

  - both means (accuracies) with a bootstrap CI on the aligned items;
  - the difference ``B - A`` (B is the candidate) with a paired-bootstrap CI
    (:func:`rmbench.stats.paired_bootstrap_diff`);
  - both bootstraps resample whole clusters when the items' ``cluster`` values repeat (several
    comparisons built from one prompt), and items otherwise;
  - McNemar's test on the items where **both** outcomes are exactly 0 or 1. Items with a value in
    between (0.5 from tie policy ``half``, or a fractional metric such as RM-Bench's 3x3 matrix)
    are left out of McNemar only, and their count is reported as ``mcnemar_left_out``. McNemar
    treats items as independent; with repeated clusters its p-value is optimistic, which the
    output says;
  - the minimum detectable effect: the smallest accuracy difference McNemar's test would detect
    with power 0.8 at ``alpha`` (two-sided), given the observed discordant rate
    (:func:`rmbench.stats.min_detectable_effect`); ``None`` when no item is discordant.

* **Multiple subsets.** The exact McNemar p-values of the subsets (not ``overall``) are
  Holm-adjusted as one family.

Bootstrap generators are seeded from both runs' seeds and the row label, so the same two runs
always give the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rmbench.analysis.pairing import (
    Alignment,
    LoadedRun,
    align,
    check_same_data,
    clusters_if_repeated,
    mean_estimate,
    paired_diff,
    require_item_metric,
    task_identity,
)
from rmbench.errors import UserError
from rmbench.reports.numbers import fmt_interval, fmt_p, pct
from rmbench.results.summary import OVERALL
from rmbench.stats.seeds import derived_rng

COMPARE_SCHEMA = "rmbench.compare/1"


def compare_values(
    a: Sequence[float],
    b: Sequence[float],
    clusters: Sequence[str],
    rng: np.random.Generator,
    *,
    n_resamples: int,
    confidence: float,
    alpha: float = 0.05,
    power: float = 0.8,
) -> dict[str, Any]:
    """One row of a comparison from aligned per-item values (``b`` is the candidate).

    Returns ``{"n", "clustered", "a", "b", "diff", "mcnemar", "mcnemar_left_out", "mde"}`` with
    estimates as dicts. ``rng`` is the only source of randomness.
    """
    from rmbench.stats import mcnemar, min_detectable_effect

    av, bv = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    rng_a, rng_b, rng_d = rng.spawn(3)
    row: dict[str, Any] = {
        "n": len(av),
        "clustered": clusters_if_repeated(clusters) is not None,
        "n_clusters": len(set(clusters)),
        "a": mean_estimate(av, clusters, rng_a, n_resamples=n_resamples, confidence=confidence),
        "b": mean_estimate(bv, clusters, rng_b, n_resamples=n_resamples, confidence=confidence),
        "diff": paired_diff(av, bv, clusters, rng_d, n_resamples=n_resamples, confidence=confidence),
    }
    binary = np.isin(av, (0.0, 1.0)) & np.isin(bv, (0.0, 1.0))
    row["mcnemar_left_out"] = int(np.sum(~binary))
    row["mcnemar"] = None
    row["mde"] = None
    if binary.any():
        res = mcnemar(av[binary].astype(bool), bv[binary].astype(bool))
        row["mcnemar"] = res.to_dict()
        if res.b + res.c:
            mde = min_detectable_effect(res.n, (res.b + res.c) / res.n, alpha=alpha, power=power)
            row["mde"] = None if math.isinf(mde) else mde
    return row


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare_runs` (see :meth:`to_dict` for the JSON layout)."""

    a: LoadedRun
    b: LoadedRun
    metric: str
    alignment: Alignment
    rows: dict[str, dict[str, Any]]  # subset name -> row, then OVERALL
    settings: dict[str, Any]
    notes: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": COMPARE_SCHEMA,
            "task": task_identity(self.a.run),
            "metric": self.metric,
            "a": self.a.describe(),
            "b": self.b.describe(),
            "only_in_a": self.alignment.only_a,
            "only_in_b": self.alignment.only_b,
            "settings": self.settings,
            "rows": self.rows,
            "notes": self.notes,
        }


def compare_runs(
    a: LoadedRun,
    b: LoadedRun,
    *,
    metric: str | None = None,
    n_resamples: int = 10000,
    confidence: float = 0.95,
    alpha: float = 0.05,
) -> Comparison:
    """Compare run ``b`` (candidate) against run ``a`` (baseline) on their common items."""
    check_same_data([(str(a.path), a.run), (str(b.path), b.run)])
    metric = metric or a.primary_metric
    require_item_metric([a, b], metric)
    al = align(a.items, b.items)
    if not al.ids:
        raise UserError(f"{a.path} and {b.path} have no scored item in common")
    subsets = list(dict.fromkeys([*(a.run["data"].get("subsets") or []), *(a.items[i].subset for i in al.ids)]))
    groups = {s: [i for i in al.ids if a.items[i].subset == s] for s in subsets}
    groups = {OVERALL: al.ids, **{s: ids for s, ids in groups.items() if ids}}
    rows: dict[str, dict[str, Any]] = {}
    for name, ids in groups.items():
        kept = [i for i in ids if a.items[i].metrics.get(metric) is not None
                and b.items[i].metrics.get(metric) is not None]
        if not kept:
            rows[name] = {"n": 0, "excluded_undefined": len(ids)}
            continue
        row = compare_values(
            [float(a.items[i].metrics[metric]) for i in kept],  # type: ignore[arg-type]
            [float(b.items[i].metrics[metric]) for i in kept],  # type: ignore[arg-type]
            [a.items[i].cluster for i in kept],
            derived_rng([a.seed, b.seed], name, metric),
            n_resamples=n_resamples, confidence=confidence, alpha=alpha,
        )
        row["excluded_undefined"] = len(ids) - len(kept)
        rows[name] = row
    _holm_subsets(rows)
    settings = {"n_resamples": n_resamples, "confidence": confidence, "alpha": alpha, "power": 0.8,
                "mcnemar_p": "exact", "holm_family": "subsets"}
    return Comparison(a, b, metric, al, rows, settings, _notes(a, b, al, rows))


def _holm_subsets(rows: dict[str, dict[str, Any]]) -> None:
    from rmbench.stats import holm

    family = [s for s, r in rows.items() if s != OVERALL and r.get("mcnemar")]
    for r in rows.values():
        r["p_holm"] = None
    if family:
        adjusted = holm([rows[s]["mcnemar"]["p_exact"] for s in family])
        for s, p in zip(family, adjusted, strict=True):
            rows[s]["p_holm"] = float(p)


def _notes(a: LoadedRun, b: LoadedRun, al: Alignment, rows: Mapping[str, Mapping[str, Any]]) -> list[str]:
    notes = []
    if al.only_a or al.only_b:
        notes.append(
            f"{len(al.only_a)} item(s) only in A and {len(al.only_b)} only in B were excluded"
            + (f" (e.g. {', '.join((al.only_a + al.only_b)[:5])})" if al.only_a or al.only_b else "")
        )
    for key in ("tie_policy", "invalid_policy"):
        pa, pb = a.run["config"].get(key), b.run["config"].get(key)
        if pa != pb:
            notes.append(f"the runs use different {key.replace('_', ' ')}s ({pa} vs {pb}): differences may come from the policy")
    overall = rows.get(OVERALL, {})
    if overall.get("mcnemar_left_out"):
        notes.append(
            f"McNemar uses items where both outcomes are 0 or 1; {overall['mcnemar_left_out']} item(s) with "
            "fractional outcomes (e.g. ties scored 0.5) were left out of McNemar only"
        )
    if overall.get("excluded_undefined"):
        notes.append(f"{overall['excluded_undefined']} item(s) with an undefined metric (excluded by policy) were left out")
    if any(r.get("clustered") for r in rows.values()):
        notes.append("bootstrap intervals resample whole clusters (prompts with several items); "
                     "McNemar treats items as independent, so its p-values are optimistic there")
    return notes


# ---------------------------------------------------------------------------------- rendering


def table(comp: Comparison, short: bool = False) -> tuple[list[str], list[list[str]]]:
    """Header and rows shared by the markdown and terminal (``short`` headers) views."""
    conf = int(round(comp.settings["confidence"] * 100))
    header = ["subset", "n", f"A {comp.metric} ({conf}% CI)", f"B {comp.metric} ({conf}% CI)",
              "B − A (paired CI)", "McNemar b / c", "p", "p (Holm)", "MDE"]
    if short:
        header = ["subset", "n", "A", "B", "B − A", "b / c", "p", "p Holm", "MDE"]
    out = []
    for name, r in comp.rows.items():
        if not r.get("n"):
            out.append([name, "0", *["n/a"] * 7])
            continue
        mc = r.get("mcnemar")
        out.append([
            name, str(r["n"]), fmt_interval(r["a"]), fmt_interval(r["b"]), fmt_interval(r["diff"], signed=True),
            f"{mc['b']} / {mc['c']}" if mc else "n/a", fmt_p(mc["p_exact"]) if mc else "n/a",
            fmt_p(r.get("p_holm")) if name != OVERALL else "—", pct(r.get("mde")),
        ])
    return header, out


def render_markdown(comp: Comparison) -> str:
    a, b = comp.a.describe(), comp.b.describe()
    ident = task_identity(comp.a.run)
    header, rows = table(comp)
    lines = [
        f"# Compare: {ident['task']} v{ident['task version']} ({comp.metric})",
        "",
        f"- A (baseline): `{a['model']}` ({a['kind']}, seed {a['seed']}) — `{a['run_dir']}`",
        f"- B (candidate): `{b['model']}` ({b['kind']}, seed {b['seed']}) — `{b['run_dir']}`",
        f"- data fingerprint `{ident['data fingerprint']}`; {len(comp.alignment.ids)} items in common",
        f"- intervals: percentile bootstrap, {comp.settings['n_resamples']} resamples; B − A is paired "
        "(same items resampled together); McNemar p is exact (two-sided), Holm-adjusted across subsets; "
        f"MDE = smallest difference McNemar detects with 80% power at alpha {comp.settings['alpha']}",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *["| " + " | ".join(r) + " |" for r in rows],
        "",
        "All numbers are percentage points.",
    ]
    if comp.notes:
        lines += ["", *[f"- {n}" for n in comp.notes]]
    return "\n".join(lines) + "\n"


def render_terminal(comp: Comparison, width: int | None = None) -> Any:
    """Rich tables that fit ``width`` columns (default: the terminal's), then the notes.

    Intervals sit under their values and long subset names are shortened from the middle
    (:func:`rmbench.reports.terminal_tables.fit_tables`), so rows stay distinguishable at 80 columns.
    """
    from rich.console import Console, Group
    from rich.text import Text

    from rmbench.reports.terminal_tables import fit_tables

    header, rows = table(comp, short=True)
    title = f"{comp.a.model_id} (A) vs {comp.b.model_id} (B) — {comp.a.run['task']['name']}, points"
    tables = fit_tables(title, header, rows, width or Console().width, fixed=2,
                        row_styles=["bold" if r[0] == OVERALL else None for r in rows])
    return Group(*tables, *(Text(f"- {n}") for n in comp.notes))
