"""The judge part of ``report.md``: how the judge was asked and read, and what its numbers mean.

:func:`judge_lines` describes the run (template name and hash, swap, parser, the unparseable and
inconsistent-pair policies, how many replies each parser rule read); :func:`judge_notes` puts the
position-bias and unparseable metrics in words and compares the judge with chance (below / above /
not distinguishable, :func:`chance_verdict`) and with the response-length baseline, so a weak judge
is reported as weak (the terminal report repeats these notes). :func:`hidden_metrics` names the per-item counts behind derived metrics (FELM's
``seg_tp`` ...), which the table leaves out (they stay in ``summary.json``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rmbench.reports.numbers import fmt_interval as _pct


def hidden_metrics(summary: Mapping[str, Any]) -> set[str]:
    """Per-item metrics that only feed ``scoring.aggregates`` (counts, not rates)."""
    aggregates = (summary.get("task", {}).get("scoring") or {}).get("aggregates") or {}
    counts = {"f1", "precision", "recall", "balanced_accuracy", "ratio",
              "confusion_macro_f1", "confusion_balanced_accuracy", "confusion_kappa"}
    return {m for spec in aggregates.values() if spec.get("kind") in counts for m in spec.get("of", [])}


def judge_lines(summary: Mapping[str, Any]) -> list[str]:
    """Bullet lines describing the judge (empty for other model kinds)."""
    model, cfg = summary["model"], summary["config"]
    if model.get("kind") != "judge":
        return []
    judge = model.get("judge") or {}
    prompts = {"*": model["prompt"]} if model.get("prompt") else dict(model.get("prompts") or {})
    named = ", ".join(f"`{p['name']}` (sha256 `{p['sha256'][:16]}`)" for p in prompts.values()) or "the mode's default"
    retries = judge.get("retries") or 0
    unparseable = f"re-asked up to {retries} times (seeded sampling), then " if retries else ""
    ordered = summary["task"].get("example_kind") in ("pairwise", "multi_response")
    swap = f", position swap **{judge.get('swap')}**" if ordered else ""
    inconsistent = (
        f"; pairs judged inconsistently across the two orders count as **{cfg.get('inconsistent_policy', 'half')}**"
        if ordered and judge.get("swap") == "both" else ""
    )
    lines = [
        f"- judge: backend `{model.get('backend', cfg.get('backend'))}`, mode `{judge.get('mode')}`, "
        f"prompt {named}, parser **{judge.get('parser')}**{swap}",
        f"- unparseable replies: {unparseable}count as **{cfg.get('invalid_policy')}**{inconsistent}",
    ]
    rules = summary["results"].get("verdict_rules")
    if rules:
        lines.append("- replies read by parser rule: " + ", ".join(f"`{how}` {n}" for how, n in rules.items()))
    return lines


def judge_notes(summary: Mapping[str, Any]) -> list[str]:
    """Plain-language notes on position bias, unparseable replies and chance-level performance."""
    if summary["model"].get("kind") != "judge":
        return []
    res = summary["results"]
    m = res["overall"]["metrics"]
    notes: list[str] = []
    if (m.get("consistent") or {}).get("value") is not None:
        acc = m.get("acc_consistent") or {}
        on_them = f"accuracy on those pairs {_pct(acc)}%" if acc.get("value") is not None else "no pair was consistent"
        notes.append(
            f"- position consistency: the judge preferred the same response in both orders for "
            f"{_pct(m['consistent'])}% of pairs; {on_them}."
        )
    if (m.get("prob_accuracy") or {}).get("value") is not None:
        notes.append(
            f"- verdict probabilities: choosing by P(chosen) averaged over both orders gives accuracy "
            f"{_pct(m['prob_accuracy'])}% (this average cancels a constant position preference)."
        )
    first = m.get("first_slot") or {}
    if first.get("value") is not None:
        biased = first.get("low") is not None and (first["low"] > 0.5 or first["high"] < 0.5)
        notes.append(
            f"- first-slot preference: {_pct(first)}% of verdicts picked the response shown first "
            f"(50% = no position preference){'; **the judge is position-biased**' if biased else ''}."
        )
    if (m.get("unparseable") or {}).get("value") is not None:
        notes.append(
            f"- unparseable replies: {_pct(m['unparseable'])}% of judge requests "
            f"(counted as {summary['config'].get('invalid_policy')})."
        )
    notes += _chance_notes(res)
    return notes


def _chance_notes(res: Mapping[str, Any]) -> list[str]:
    """Compare with what needs no model: coin flips, response length, a constant FELM verdict."""
    m = res["overall"]["metrics"]
    out = []
    primary = res["primary_metric"]
    est = m.get(primary) or {}
    if primary == "accuracy" and est.get("value") is not None and "first_slot" in m:
        length = (res["overall"].get("baselines", {}).get("length") or {}).get("accuracy") or {}
        verdict = chance_verdict(est, unparsed=(m.get("unparseable") or {}).get("value") or 0.0)
        base = f"; the response-length baseline scores {_pct(length)}%" if length.get("value") is not None else ""
        out.append(f"- against baselines: random choice scores 50% in expectation; this judge is {verdict}{base}.")
    if "seg_f1" in m:
        out.append(_felm_note(m))
    return out


def chance_verdict(est: Mapping[str, Any], chance: float = 0.5, unparsed: float = 0.0) -> str:
    """Where an estimate's interval lies against ``chance``: below, above, or not distinguishable.

    Only the interval decides (a point estimate of 0.0 with the interval [0.0, 0.0] is *below*
    chance); without an interval (too few items) nothing is claimed.

    >>> chance_verdict({"value": 0.0, "low": 0.0, "high": 0.0})
    '**below chance**'
    >>> chance_verdict({"value": 0.8, "low": 0.7, "high": 0.9}), chance_verdict({"value": 0.5, "low": 0.4, "high": 0.6})
    ('above chance', '**not distinguishable from chance**')
    """
    low, high = est.get("low"), est.get("high")
    if est.get("value") is None:
        return "without a value"
    if low is None or high is None:
        return "without an interval to compare with chance"
    if high < chance:
        return "**below chance**" + (" (unparseable replies count against it)" if unparsed > 0 else "")
    if low > chance:
        return "above chance"
    return "**not distinguishable from chance**"


def _felm_note(m: Mapping[str, Any]) -> str:
    """FELM: what a constant 'every segment is non-factual' judge would score, for scale."""
    def total(name: str) -> float:
        e = m.get(name) or {}
        return float(e.get("value") or 0.0) * float(e.get("n") or 0)

    pos, neg = total("seg_tp") + total("seg_fn"), total("seg_fp") + total("seg_tn")
    const_f1 = 2 * pos / (2 * pos + neg) if pos + neg else float("nan")
    bal = m.get("seg_balanced_accuracy") or {}
    where = chance_verdict(bal, unparsed=(m.get("unparseable") or {}).get("value") or 0.0)
    return (
        f"- against baselines: a judge that calls every segment non-factual gets segment F1 "
        f"{const_f1 * 100:.1f} (recall 100); any constant or random judge has balanced accuracy 50. "
        f"This judge's segment balanced accuracy {_pct(bal)} is {where}."
    )
