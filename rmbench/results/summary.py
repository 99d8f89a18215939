"""Compute a run's summary from its manifest (``run.json``) and per-item results.

The summary is a pure function of ``run.json`` and ``items.jsonl``: ``rmbench report`` and
``rmbench leaderboard verify`` recompute it, and a resumed run gives the same numbers as an
uninterrupted one. Only the ``timing`` block depends on the machine and the clock.

Bootstrap generators are seeded from (run seed, the item set's content key, metric), and items are
put in a canonical order (by id) first, so results never depend on the order items were written,
and the same items with the same statistic get the same interval wherever they are shown (an
``overall`` that holds one subset's items equals that subset; :func:`rmbench.results.subset_means.content_key`).

Metrics that compare several items of a cluster (RewardBench 2 Ties' ``preferred``) are computed here
from the items, one value per cluster (:func:`rmbench.grading.core.grade_clusters`), and reported as means
over clusters; derived metrics (``scoring.aggregates``) see items and clusters alike. A section whose
subsets all have ``scoring.subset_weights`` is the weighted mean of its subset means, with a CI
(:func:`rmbench.results.aggregates.subset_weighted_mean`); with ``section_weighting: subsets`` it is the
unweighted mean of subset values, with a stratified CI (:mod:`rmbench.results.subset_means`).

Every block counts its ``truncated`` items (``extra.truncated``: sequences cut at the maximum
length); ``results.warnings`` lists truncation and blocks with fewer than
:data:`~rmbench.results.subset_means.MIN_CLUSTERS` clusters, whose intervals are unreliably narrow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rmbench.adapters.judge.grading import verdict_rule_counts
from rmbench.datatypes import ItemResult
from rmbench.grading.core import Policies, grade_clusters
from rmbench.grading.policies import DEFAULT_INVALID_POLICY, DEFAULT_TIE_POLICY
from rmbench.results.aggregates import aggregate, subset_weighted_mean
from rmbench.results.item_errors import errors_block, split_errors
from rmbench.results.schema import SUMMARY_SCHEMA, check_summary
from rmbench.results.subset_means import MIN_CLUSTERS, content_key, subsets_section
from rmbench.stats.seeds import derived_rng

OVERALL = "overall"
"""The name of the block (and of the compare / gate row) that holds every item."""


def metric_names(items: Sequence[ItemResult]) -> list[str]:
    names: dict[str, None] = {}
    for it in items:
        for k in it.metrics:
            names.setdefault(k, None)
    return list(names)


def aggregate_metric(
    items: Sequence[ItemResult],
    metric: str,
    *,
    seed: int,
    label: str,
    n_resamples: int,
    confidence: float,
    source: str | None = None,
) -> dict[str, Any]:
    """Mean of a per-item metric with a cluster-bootstrap CI; ``source`` picks a baseline's metrics.

    ``label`` seeds the generator together with ``seed``, ``metric`` and ``source``: pass the item set's
    :func:`~rmbench.results.subset_means.content_key` so equal item sets get equal intervals.
    """
    from rmbench.stats import mean_ci

    values, clusters = [], []
    excluded = 0
    for it in items:
        m = it.metrics if source is None else it.baselines.get(source, {})
        v = m.get(metric)
        if v is None:
            excluded += 1
            continue
        values.append(float(v))
        clusters.append(it.cluster)
    if not values:
        return {"value": None, "low": None, "high": None, "n": 0, "excluded": excluded}
    clustered = len(set(clusters)) < len(clusters)
    if len(set(clusters)) < 2:  # no interval from one item or one cluster; keep the point value
        return {"value": float(np.mean(values)), "low": None, "high": None, "n": len(values), "excluded": excluded,
                "clustered": clustered, "note": "a bootstrap interval needs at least 2 items (clusters)"}
    est = mean_ci(
        np.asarray(values),
        derived_rng(seed, label, metric, source or ""),
        clusters=np.asarray(clusters) if clustered else None,
        n_resamples=n_resamples,
        confidence=confidence,
    )
    out = est.to_dict()
    out["excluded"] = excluded
    out["clustered"] = clustered
    return out


def _block(
    items: Sequence[ItemResult], metrics: Sequence[str], baselines: Sequence[str], *, seed: int,
    n_resamples: int, confidence: float, aggregates: Mapping[str, Any] | None = None,
    policies: Policies | None = None,
) -> dict[str, Any]:
    items = sorted(items, key=lambda it: it.id)  # a pooled section's items come subset by subset
    per_cluster = grade_clusters(items, policies or Policies())
    label = content_key(items)  # not the block's name: equal item sets get equal resamples
    block: dict[str, Any] = {
        "n_items": len(items),
        "n_clusters": len({it.cluster for it in items}),
        "ties": sum(it.ties for it in items),
        "invalid": sum(it.invalid for it in items),
        **truncation_counts(items),
        "metrics": {
            m: aggregate_metric(items, m, seed=seed, label=label, n_resamples=n_resamples, confidence=confidence)
            for m in metrics
        },
    }
    for m in metric_names(per_cluster):  # means over clusters, e.g. RewardBench 2 Ties' preferred
        if m in block["metrics"]:
            raise ValueError(f"metric '{m}' is both a per-item and a per-cluster metric")
        block["metrics"][m] = aggregate_metric(
            per_cluster, m, seed=seed, label=label, n_resamples=n_resamples, confidence=confidence
        )
    for name, agg in (aggregates or {}).items():
        block["metrics"][name] = aggregate(
            [*items, *per_cluster], agg["kind"], agg["of"], derived_rng(seed, label, name), n_resamples=n_resamples,
            confidence=confidence, weights=agg.get("weights"),
        )
    if baselines:
        block["baselines"] = {
            b: {
                m: aggregate_metric(
                    items, m, seed=seed, label=label, n_resamples=n_resamples, confidence=confidence, source=b
                )
                for m in metrics
            }
            for b in baselines
        }
    return block


def compute_results(run: Mapping[str, Any], items: Sequence[ItemResult]) -> dict[str, Any]:
    """The deterministic ``results`` block of a summary."""
    cfg = run["config"]
    seed, n_resamples, confidence = int(cfg["seed"]), int(cfg["n_bootstrap"]), float(cfg["confidence"])
    scoring = run["task"].get("scoring", {})
    items, failed = split_errors(sorted(items, key=lambda it: it.id))  # backend errors are not graded
    metrics = metric_names(items)
    baselines = sorted({b for it in items for b in it.baselines})
    policies = Policies(cfg.get("tie_policy", DEFAULT_TIE_POLICY), cfg.get("invalid_policy", DEFAULT_INVALID_POLICY))
    kw: dict[str, Any] = {"seed": seed, "n_resamples": n_resamples, "confidence": confidence,
                          "aggregates": scoring.get("aggregates") or {}, "policies": policies}
    subsets = list(dict.fromkeys(run["data"].get("subsets") or sorted({it.subset for it in items})))
    by_subset = {s: [it for it in items if it.subset == s] for s in subsets}
    results: dict[str, Any] = {
        "primary_metric": scoring.get("primary_metric", "accuracy"),
        "report_metrics": scoring.get("report_metrics", []),
        OVERALL: _block(items, metrics, baselines, **kw),
        "subsets": {s: _block(its, metrics, baselines, **kw) for s, its in by_subset.items() if its},
        "truncation_side": run.get("model", {}).get("truncation_side"),
    }
    sections = scoring.get("sections") or {}
    if sections:
        results["sections"] = _sections(sections, by_subset, results["subsets"], metrics, baselines,
                                        scoring.get("section_weighting", "items"), kw,
                                        scoring.get("subset_weights") or {},
                                        scoring.get("subset_metrics") or {}, results["primary_metric"])
    results["tokens_scored"] = int(sum(int(it.scores.get("tokens", 0) or 0) for it in items))
    results["warnings"] = warnings(results)
    results["errors"] = errors_block(failed)
    rules = verdict_rule_counts(items)
    if rules is not None:
        results["verdict_rules"] = rules  # judges: how many replies each parser rule read
    from rmbench.adapters.faithfulness.sensitivity import faithfulness_results

    faithfulness = faithfulness_results(items, confidence, subsets)
    if faithfulness is not None:
        results["faithfulness"] = faithfulness  # CoT faithfulness: rates per classifier, agreement, ranks
    return results


def truncation_counts(items: Sequence[ItemResult]) -> dict[str, int]:
    """Items with a sequence cut at the maximum length (``extra.truncated``: how many of the item's
    sequences were cut) and the number of cut sequences."""
    cut = [int(it.extra.get("truncated") or 0) for it in items if it.extra]
    return {"truncated": sum(c > 0 for c in cut), "truncated_sequences": sum(cut)}


def warnings(results: Mapping[str, Any]) -> list[str]:
    """Plain-language warnings about numbers that mean less than they seem: truncated inputs, and
    intervals from fewer than ``MIN_CLUSTERS`` clusters (too narrow; none at all from one cluster)."""
    out = []
    overall = results["overall"]
    if overall.get("truncated"):
        where = ", ".join(f"{s} {b['truncated']}" for s, b in results["subsets"].items() if b.get("truncated"))
        side = results.get("truncation_side")
        out.append(
            f"{overall['truncated']} of {overall['n_items']} items had input cut at the maximum length"
            + (f" (on the {side})" if side else "") + f": {where}; their scores saw only part of the text"
        )
    blocks = [("overall", overall), *results["subsets"].items()]
    few = [f"{name} ({b['n_clusters']})" for name, b in blocks if b.get("n_clusters", MIN_CLUSTERS) < MIN_CLUSTERS]
    if few:
        out.append(
            f"fewer than {MIN_CLUSTERS} clusters (independent prompts) in {', '.join(few)}: their intervals are "
            "unreliably narrow (none from a single cluster)"
        )
    return out


def _sections(
    sections: Mapping[str, list[str]], by_subset: Mapping[str, list[ItemResult]], subset_blocks: Mapping[str, Any],
    metrics: Sequence[str], baselines: Sequence[str], weighting: str, kw: Mapping[str, Any],
    subset_weights: Mapping[str, float] | None = None, subset_metrics: Mapping[str, str] | None = None,
    primary: str = "accuracy",
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, members in sections.items():
        present = [s for s in members if by_subset.get(s)]
        if not present:
            continue
        if subset_weights and all(s in subset_weights for s in members):
            out[name] = _weighted_section(name, present, by_subset, subset_blocks, metrics, baselines,
                                          subset_weights, kw)
        elif weighting == "items":
            pooled = [it for s in present for it in by_subset[s]]
            out[name] = _block(pooled, metrics, baselines, **kw)  # type: ignore[arg-type]
            out[name]["subsets"] = present
        else:  # unweighted mean of subset values (derived metrics too, e.g. mean F1), stratified CI
            per_cluster = {s: grade_clusters(by_subset[s], kw.get("policies") or Policies()) for s in present}
            names = [*metrics, *metric_names([c for s in present for c in per_cluster[s]]),
                     *(kw.get("aggregates") or {})]
            out[name] = subsets_section(present, by_subset, per_cluster, subset_blocks, names, baselines, kw,
                                        subset_metrics, primary)
    return out


def _weighted_section(
    name: str, present: Sequence[str], by_subset: Mapping[str, list[ItemResult]], subset_blocks: Mapping[str, Any],
    metrics: Sequence[str], baselines: Sequence[str], weights: Mapping[str, float], kw: Mapping[str, Any],
) -> dict[str, Any]:
    """``sum_s w_s mean_s / sum_s w_s`` over the section's subsets, per metric and baseline, with CIs.

    Derived metrics (``aggregates``) get the same weighted mean of their subset values, without a CI.
    """
    pooled = [it for s in present for it in by_subset[s]]
    label = content_key(pooled)
    est = {"n_resamples": kw["n_resamples"], "confidence": kw["confidence"]}

    def weighted(m: str, source: str | None = None) -> dict[str, Any]:
        rng = derived_rng(kw["seed"], label, m, source or "")
        return subset_weighted_mean(pooled, m, weights, rng, source=source, **est)

    block: dict[str, Any] = {
        "subsets": list(present),
        "weighting": "subset_weights",
        "weights": {s: float(weights[s]) for s in present},
        "n_items": len(pooled),
        "n_clusters": len({it.cluster for it in pooled}),
        "ties": sum(it.ties for it in pooled),
        "invalid": sum(it.invalid for it in pooled),
        "metrics": {m: weighted(m) for m in metrics},
    }
    for agg in kw.get("aggregates") or {}:
        pairs = [(subset_blocks[s]["metrics"][agg]["value"], weights[s]) for s in present]
        kept = [(v, w) for v, w in pairs if v is not None]
        value = sum(v * w for v, w in kept) / sum(w for _, w in kept) if kept else None
        block["metrics"][agg] = {"value": value, "n_subsets": len(kept)}
    if baselines:
        block["baselines"] = {b: {m: weighted(m, b) for m in metrics} for b in baselines}
    return block


def build_summary(run: Mapping[str, Any], items: Sequence[ItemResult], timing: Mapping[str, Any] | None) -> dict[str, Any]:
    """``summary.json`` as a dict, checked against :class:`rmbench.results.schema.RunSummary`."""
    summary = {
        "schema": SUMMARY_SCHEMA,
        "task": run["task"],
        "data": run["data"],
        "model": run["model"],
        "config": run["config"],
        "environment": run["environment"],
        "results": compute_results(run, items),
        "timing": dict(timing or {}),
    }
    check_summary(summary)
    return summary
