"""The CI regression gate (``rmbench gate --baseline RUN_OR_SUMMARY --candidate RUN``).

The rule
--------
Let ``d = candidate - baseline`` be the difference in the primary metric (a fraction in [0, 1]) and
``m = max_drop / 100`` the tolerated drop (``--max-drop`` is in percentage points). Each test case
(``overall``, and each subset unless ``subsets=False``) is tested at ``alpha' = alpha / k``, where
``k`` is the number of test cases (Bonferroni), so that noise alone fails the gate with probability at
most ``alpha`` when no test case truly dropped by more than ``m``.

* ``U`` = the upper end of the one-sided ``(1 - alpha')`` interval for ``d``: the ``1 - alpha'``
  quantile of the paired bootstrap distribution of ``mean(candidate) - mean(baseline)`` over the
  common items (clusters resampled whole when they repeat). ``L`` is the ``alpha'`` quantile.
* **fail** iff ``U < -m``: with confidence ``1 - alpha'`` the candidate is worse than the baseline
  by more than the margin.
* **pass** otherwise. When ``L < -m`` as well, the data cannot rule out a drop larger than ``m``
  (too few items for the margin); the case passes, marked ``inconclusive``, and the output says so.
* **skipped** when there are fewer than 2 items or clusters (no interval); skipped cases never fail.

Consequences: a candidate identical to the baseline has ``d = 0`` on every item, so ``U = 0 >= -m``
and it passes for any ``m >= 0``; a large planted regression has ``U`` far below ``-m`` and fails;
sampling noise moves ``U`` above ``d``, so it fails only when the evidence for a drop beyond ``m``
is significant at ``alpha'``. This puts the burden of proof on the regression. (Classical
non-inferiority, "pass only if ``L > -m``", puts it on the candidate and would fail small, noisy runs;
the ``inconclusive`` marker reports that weaker verdict without failing.)

Summary-only baseline
---------------------
When the baseline is a ``summary.json`` (or a run directory without ``items.jsonl``) items cannot be
paired. The gate then compares the candidate's mean with the baseline's reported estimate, unpaired:
``se = (high - low) / (2 z)`` from each two-sided interval (``z`` its normal quantile), and
``U = d + z_{1 - alpha'} * sqrt(se_b^2 + se_c^2)``. This ignores the positive correlation of two runs on
the same items, so it is wider (more lenient) than the paired test; the outputs say which was used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Any, Literal

import numpy as np

from rmbench.analysis.pairing import (
    LoadedRun,
    align,
    check_same_data,
    load_run_dir,
    mean_estimate,
    paired_diff,
    require_item_metric,
    task_identity,
)
from rmbench.errors import UserError
from rmbench.reports.numbers import fmt_interval, pct
from rmbench.results.files import ITEMS_FILE, SUMMARY_FILE, read_json
from rmbench.results.summary import OVERALL
from rmbench.stats.seeds import derived_rng

GATE_SCHEMA = "rmbench.gate/1"
Status = Literal["pass", "fail", "skipped"]


@dataclass(frozen=True)
class CaseResult:
    """One test case of the gate (``overall`` or a subset). Fractions, not points."""

    name: str
    status: Status
    inconclusive: bool
    method: str  # "paired-bootstrap" | "unpaired-normal"
    n: int
    baseline: float | None
    candidate: float | None
    diff: float | None
    lower: float | None  # alpha' quantile of d
    upper: float | None  # 1 - alpha' quantile of d
    alpha: float  # alpha' actually used
    margin: float
    message: str


@dataclass(frozen=True)
class GateResult:
    task: dict[str, Any]
    metric: str
    baseline: dict[str, Any]
    candidate: dict[str, Any]
    cases: list[CaseResult]
    settings: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.status != "fail" for c in self.cases)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": GATE_SCHEMA,
            "passed": self.passed,
            "task": self.task,
            "metric": self.metric,
            "baseline": self.baseline,
            "candidate": self.candidate,
            "settings": self.settings,
            "cases": [asdict(c) for c in self.cases],
            "notes": self.notes,
        }


# ----------------------------------------------------------------------------- the decision


def decide(name: str, n: int, base: float | None, cand: float | None, diff: float | None,
           lower: float | None, upper: float | None, *, alpha: float, margin: float, method: str) -> CaseResult:
    """Apply the gate rule (module docstring) to one case's numbers."""
    if upper is None or lower is None or diff is None:
        return CaseResult(name, "skipped", False, method, n, base, cand, diff, lower, upper, alpha, margin,
                          "too few items or clusters for an interval; not gated")
    fail = upper < -margin
    inconclusive = not fail and lower < -margin
    verdict = (
        f"significantly worse by more than {pct(margin)} points"
        if fail else "cannot rule out a drop larger than the margin (too few items)" if inconclusive
        else "no drop beyond the margin"
    )
    message = (f"{method}: change {pct(diff, True)} points, one-sided {100 * (1 - alpha):.2f}% bounds "
               f"[{pct(lower, True)}, {pct(upper, True)}] vs margin -{pct(margin)}: {verdict}")
    return CaseResult(name, "fail" if fail else "pass", inconclusive, method, n, base, cand, diff, lower, upper,
                      alpha, margin, message)


def paired_case(name: str, base: np.ndarray, cand: np.ndarray, clusters: list[str], rng: np.random.Generator, *,
                alpha: float, margin: float, n_resamples: int) -> CaseResult:
    """Gate one case on paired per-item values (``rng`` is the only randomness)."""
    est = paired_diff(base, cand, clusters, rng, n_resamples=n_resamples, confidence=1 - 2 * alpha)
    return decide(name, len(base), float(base.mean()), float(cand.mean()), est["value"], est["low"], est["high"],
                  alpha=alpha, margin=margin, method="paired-bootstrap")


def unpaired_bounds(base: Mapping[str, Any], cand: Mapping[str, Any], alpha: float) -> tuple[float, float, float]:
    """``(d, L, U)`` from two independent estimates with two-sided intervals (normal approximation).

    ``se = (high - low) / (2 z_{(1 + confidence) / 2})`` for each; ``d = cand - base``;
    ``L, U = d -/+ z_{1 - alpha} sqrt(se_base^2 + se_cand^2)``.

    >>> d, lo, hi = unpaired_bounds({"value": .5, "low": .4, "high": .6, "confidence": .95},
    ...                             {"value": .5, "low": .4, "high": .6, "confidence": .95}, 0.05)
    >>> round(hi, 4)
    0.1187
    """
    nd = NormalDist()

    def se(e: Mapping[str, Any]) -> float:
        return (float(e["high"]) - float(e["low"])) / (2 * nd.inv_cdf((1 + float(e.get("confidence", 0.95))) / 2))

    d = float(cand["value"]) - float(base["value"])
    half = nd.inv_cdf(1 - alpha) * (se(base) ** 2 + se(cand) ** 2) ** 0.5
    return d, d - half, d + half


# --------------------------------------------------------------------------------- inputs


def load_baseline(path: Path) -> tuple[LoadedRun | None, dict[str, Any] | None]:
    """A baseline is a run directory with items (paired) or a ``summary.json`` (unpaired fallback)."""
    if path.is_dir() and (path / ITEMS_FILE).exists():
        return load_run_dir(path), None
    summary_path = path / SUMMARY_FILE if path.is_dir() else path
    if not summary_path.exists():
        raise UserError(f"{path}: neither a run directory with {ITEMS_FILE} nor a {SUMMARY_FILE}")
    summary = read_json(summary_path)
    if not isinstance(summary, dict) or "results" not in summary or "task" not in summary:
        raise UserError(f"{summary_path}: not an rmbench run summary (no 'results' / 'task')")
    return None, summary


def run_gate(
    baseline: Path,
    candidate: Path,
    *,
    max_drop: float,
    alpha: float = 0.05,
    subsets: bool = True,
    n_resamples: int = 10000,
    metric: str | None = None,
) -> GateResult:
    """Gate ``candidate`` against ``baseline``; see the module docstring for the rule."""
    if max_drop < 0:
        raise UserError(f"--max-drop {max_drop}: must be >= 0 (percentage points)")
    if not 0 < alpha < 0.5:
        raise UserError(f"--alpha {alpha}: must be in (0, 0.5)")
    cand = load_run_dir(candidate)
    base_run, base_summary = load_baseline(baseline)
    base_manifest = base_run.run if base_run is not None else base_summary
    assert base_manifest is not None
    check_same_data([(f"baseline {baseline}", base_manifest), (f"candidate {candidate}", cand.run)])
    metric = metric or cand.primary_metric
    require_item_metric([cand], metric)
    margin = max_drop / 100.0
    notes: list[str] = []
    if base_run is not None:
        groups, values, only = _paired_groups(base_run, cand, metric, subsets)
        if only:
            notes.append(f"{only} item(s) present in only one run were excluded")
        k = len(groups)
        a = alpha / k
        cases = [paired_case(name, *values[name], derived_rng([base_run.seed, cand.seed], "gate", name, metric),
                             alpha=a, margin=margin, n_resamples=n_resamples) for name in groups]
        base_desc = base_run.describe()
    else:
        assert base_summary is not None
        cases = _unpaired_cases(base_summary, cand, metric, subsets, alpha, margin)
        notes.append("baseline is a summary without per-item results: unpaired comparison against its reported "
                     "estimate (wider than a paired test; pass the baseline run directory to pair items)")
        base_desc = {"summary": str(baseline), "model": (base_summary.get("model") or {}).get("id")}
    if any(c.inconclusive for c in cases):
        notes.append("inconclusive cases pass, but their data cannot rule out a drop larger than the margin")
    settings = {"max_drop_points": max_drop, "alpha": alpha, "bonferroni_k": len(cases), "n_resamples": n_resamples,
                "method": "paired-bootstrap" if base_run is not None else "unpaired-normal", "gate_subsets": subsets}
    return GateResult(task_identity(cand.run), metric, base_desc, cand.describe(), cases, settings, notes)


def _paired_groups(base: LoadedRun, cand: LoadedRun, metric: str, subsets: bool
                   ) -> tuple[list[str], dict[str, tuple[np.ndarray, np.ndarray, list[str]]], int]:
    al = align(base.items, cand.items)
    ids = [i for i in al.ids if base.items[i].metrics.get(metric) is not None
           and cand.items[i].metrics.get(metric) is not None]
    if not ids:
        raise UserError("baseline and candidate have no item in common with a defined metric")
    names = [OVERALL]
    if subsets:
        present = {base.items[i].subset for i in ids}
        order = [*(base.run["data"].get("subsets") or []), *sorted(present)]
        names += [s for s in dict.fromkeys(order) if s in present]
        if len(names) == 2:
            names = [OVERALL]  # one subset is the overall case
    values = {}
    for name in names:
        sel = [i for i in ids if name == OVERALL or base.items[i].subset == name]
        values[name] = (np.array([float(base.items[i].metrics[metric]) for i in sel]),  # type: ignore[arg-type]
                        np.array([float(cand.items[i].metrics[metric]) for i in sel]),  # type: ignore[arg-type]
                        [base.items[i].cluster for i in sel])
    return names, values, len(al.only_a) + len(al.only_b)


def _unpaired_cases(summary: Mapping[str, Any], cand: LoadedRun, metric: str, subsets: bool, alpha: float,
                    margin: float) -> list[CaseResult]:
    res = summary["results"]
    blocks = {OVERALL: res["overall"]}
    if subsets and len(res.get("subsets", {})) > 1:
        blocks.update(res["subsets"])
    a = alpha / len(blocks)
    cases = []
    for name, block in blocks.items():
        b_est = (block.get("metrics") or {}).get(metric) or {}
        its = [it for it in cand.items.values() if (name == OVERALL or it.subset == name)
               and it.metrics.get(metric) is not None]
        if b_est.get("low") is None or len(its) < 2:
            cases.append(decide(name, len(its), b_est.get("value"), None, None, None, None,
                                alpha=a, margin=margin, method="unpaired-normal"))
            continue
        its.sort(key=lambda it: it.id)  # canonical order, as in the summary
        vals = np.array([float(it.metrics[metric]) for it in its])  # type: ignore[arg-type]
        c_est = mean_estimate(vals, [it.cluster for it in its], derived_rng([cand.seed], "gate", name, metric),
                              n_resamples=int(cand.run["config"].get("n_bootstrap", 2000)),
                              confidence=float(b_est.get("confidence", 0.95)))
        if c_est["low"] is None:
            cases.append(decide(name, len(its), b_est.get("value"), c_est["value"], None, None, None,
                                alpha=a, margin=margin, method="unpaired-normal"))
            continue
        d, lo, hi = unpaired_bounds(b_est, c_est, a)
        cases.append(decide(name, len(vals), float(b_est["value"]), float(c_est["value"]), d, lo, hi,
                            alpha=a, margin=margin, method="unpaired-normal"))
    return cases


# ---------------------------------------------------------------------------------- outputs


def _icon(c: CaseResult) -> str:
    return {"fail": "❌ fail", "skipped": "⏭ skipped"}.get(c.status, "⚠️ pass (inconclusive)" if c.inconclusive else "✅ pass")


def render_markdown(g: GateResult) -> str:
    """A pull-request comment: verdict, rule, one row per case, notes."""
    s = g.settings
    head = "✅ **rmbench gate passed**" if g.passed else "❌ **rmbench gate failed**"
    lines = [
        f"### {head}: {g.task['task']} v{g.task['task version']} ({g.metric})",
        "",
        f"Candidate `{g.candidate.get('model')}` vs baseline `{g.baseline.get('model')}`. "
        f"Fails when the one-sided {100 * (1 - s['alpha'] / s['bonferroni_k']):.2f}% upper bound of "
        f"(candidate − baseline) is below −{s['max_drop_points']:g} points "
        f"({s['method']}, alpha {s['alpha']:g} Bonferroni-split over {s['bonferroni_k']} case(s)).",
        "",
        "| case | result | n | baseline | candidate | change | one-sided bounds |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in g.cases:
        bounds = fmt_interval({"value": c.diff, "low": c.lower, "high": c.upper}, signed=True)
        lines.append(f"| {c.name} | {_icon(c)} | {c.n} | {pct(c.baseline)} | {pct(c.candidate)} | "
                     f"{pct(c.diff, True)} | {bounds.split(' ', 1)[-1] if c.upper is not None else 'n/a'} |")
    lines += ["", "Numbers are percentage points."]
    lines += [f"- {n}" for n in g.notes]
    return "\n".join(lines) + "\n"


def render_junit(g: GateResult) -> str:
    """JUnit XML: one ``testcase`` per case; failures carry the numbers; skipped cases are ``skipped``."""
    import xml.etree.ElementTree as ET

    fails = sum(c.status == "fail" for c in g.cases)
    skips = sum(c.status == "skipped" for c in g.cases)
    name = f"rmbench gate {g.task['task']} v{g.task['task version']}"
    counts = {"tests": str(len(g.cases)), "failures": str(fails), "errors": "0", "skipped": str(skips)}
    root = ET.Element("testsuites", {"name": "rmbench gate", **counts})
    suite = ET.SubElement(root, "testsuite", {"name": name, **counts})
    props = ET.SubElement(suite, "properties")
    for key, value in [("baseline", g.baseline.get("run_dir") or g.baseline.get("summary")),
                       ("candidate", g.candidate.get("run_dir")), ("metric", g.metric),
                       *((k, v) for k, v in g.settings.items())]:
        ET.SubElement(props, "property", {"name": str(key), "value": str(value)})
    for c in g.cases:
        case = ET.SubElement(suite, "testcase", {"classname": f"rmbench.analysis.gate.{g.task['task']}", "name": c.name,
                                                 "time": "0"})
        if c.status == "fail":
            fail = ET.SubElement(case, "failure", {"type": "regression", "message": c.message})
            fail.text = (f"baseline {pct(c.baseline)}, candidate {pct(c.candidate)}, n {c.n}; "
                         f"change {pct(c.diff, True)} points; upper bound {pct(c.upper, True)} < "
                         f"-{pct(c.margin)} (alpha {c.alpha:.4g}, {c.method})")
        elif c.status == "skipped":
            ET.SubElement(case, "skipped", {"message": c.message})
        else:
            ET.SubElement(case, "system-out").text = c.message
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def render_terminal(g: GateResult, width: int | None = None) -> Any:
    """Rich tables that fit ``width`` columns (default: the terminal's), then the notes."""
    from rich.console import Console, Group
    from rich.text import Text

    from rmbench.reports.terminal_tables import fit_tables

    header = ["case", "result", "n", "baseline", "candidate", "change", "lower", "upper"]
    rows = [
        [c.name, {"fail": "FAIL", "skipped": "skipped"}.get(c.status, "pass (inconcl.)" if c.inconclusive else "pass"),
         str(c.n), pct(c.baseline), pct(c.candidate), pct(c.diff, True), pct(c.lower, True), pct(c.upper, True)]
        for c in g.cases
    ]
    title = f"rmbench gate: {'PASS' if g.passed else 'FAIL'} — {g.task['task']} ({g.metric}, points)"
    tables = fit_tables(title, header, rows, width or Console().width, fixed=2,
                        row_styles=["red" if c.status == "fail" else None for c in g.cases])
    return Group(*tables, *(Text(f"- {n}") for n in g.notes))
