"""The faithfulness section of ``report.md``: the sensitivity range first, then rates per classifier and
hint type with intervals, pairwise agreement, and model rankings (:mod:`rmbench.adapters.faithfulness.sensitivity`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rmbench.adapters.faithfulness.sensitivity import FEW_INFLUENCED, OVERALL


def _pct(est: Mapping[str, Any]) -> str:
    if est.get("value") is None:
        return "n/a (0 influenced)"
    return f"{100 * est['value']:.1f} [{100 * est['low']:.1f}, {100 * est['high']:.1f}] ({est['faithful']}/{est['n']})"


def _num(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def faithfulness_lines(summary: Mapping[str, Any]) -> list[str]:
    """Markdown lines of the section; empty when the run has no faithfulness block."""
    fb = (summary.get("results") or {}).get("faithfulness")
    if not fb:
        return []
    names, counts = fb["classifiers"], fb["counts"]
    groups = [g for g in counts if g != OVERALL] + [OVERALL]
    sens = fb["sensitivity"][OVERALL]
    lines = ["", "## CoT faithfulness", ""]
    n_inf = counts[OVERALL]["influenced"]
    if sens.get("range") is not None:
        lines.append(f"**Faithfulness depends on the classifier: {100 * sens['min']:.1f}% ({sens['min_classifier']}) "
                     f"to {100 * sens['max']:.1f}% ({sens['max_classifier']}), a range of {100 * sens['range']:.1f} "
                     f"points, over {n_inf} influenced traces.**")
    else:
        lines.append(f"**No faithfulness rate: {n_inf} influenced traces.**")
    c = counts[OVERALL]
    lines.append(f"- traces: {c['items']}; influenced (answer moved to the hint's target): {c['influenced']}; "
                 f"not influenced: {c['not_influenced']}; answer unparseable: {c['unparseable']}")
    if fb.get("few_influenced"):
        lines.append(f"- **Warning:** only {n_inf} influenced traces (fewer than {FEW_INFLUENCED}): the intervals "
                     "below are wide and the classifier comparisons have little power.")
    lines.append(f"- policy: {fb['policy']}; intervals: {int(100 * fb['confidence'])}% Wilson")
    lines += ["", "| hint type | influenced / items | " + " | ".join(f"{n} % faithful" for n in names) + " | range |",
              "|---|---|" + "---|" * (len(names) + 1)]
    for g in groups:
        rng = fb["sensitivity"][g].get("range")
        lines.append(f"| {g} | {counts[g]['influenced']} / {counts[g]['items']} | "
                     + " | ".join(_pct(fb["rates"][n][g]) for n in names) + f" | {_num(rng and 100 * rng, 1)} |")
    if any(p["n"] for ps in fb["pairs"].values() for p in ps):
        lines += ["", "| hint type | a vs b | n | both / a only / b only / neither | agreement | kappa | McNemar b, c (p) |",
                  "|---|---|---|---|---|---|---|"]
        for g in groups:
            for p in (p for p in fb["pairs"][g] if p["n"]):
                t, m = p["table"], p["mcnemar"]
                kappa = _num(p["kappa"]) + (f" ({p['band']})" if p.get("band") else "")
                mc = f"{m['b']}, {m['c']} (p={m['p_exact']:.3g})" if m else "n/a"
                lines.append(f"| {g} | {p['a']} vs {p['b']} | {p['n']} | {t[0][0]} / {t[0][1]} / {t[1][0]} / {t[1][1]} "
                             f"| {_num(p['agreement'])} | {kappa} | {mc} |")
    lines += model_lines(fb.get("models"))
    return lines


def model_lines(models: Mapping[str, Any] | None) -> list[str]:
    """Ranks of the traces' models under each classifier and how much the classifier reorders them."""
    if not models:
        return []
    names = list(models["ranks"])
    order = sorted(models["ranks"][names[0]], key=lambda m: models["ranks"][names[0]][m])
    lines = ["", "| model | " + " | ".join(f"{n} rank" for n in names) + " |", "|---|" + "---|" * len(names)]
    lines += [f"| {m} | " + " | ".join(_num(models["ranks"][n].get(m), 1) for n in names) + " |" for m in order]
    lines.append("")  # the correlations are a list, not table rows
    for c in models["correlations"]:
        moves = c["largest_rank_change"]
        text = f"- {c['a']} vs {c['b']}: Spearman rho {_num(c['spearman'])} (p={_num(c['spearman_p'], 4)}) over {c['n_models']} models"
        if moves:
            text += f"; largest rank change ({abs(moves[0]['change']):g} places): " + ", ".join(
                f"{m['model']} {m['rank_a']:g} -> {m['rank_b']:g}" for m in moves)
        lines.append(text)
    return lines
