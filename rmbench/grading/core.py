"""Turn an example and a prediction into per-item metrics, under explicit tie and invalid policies.

Policies (recorded in every summary):

* ``tie_policy``: equal scores count as ``wrong`` (RewardBench's ``chosen > rejected``), ``half`` a
  point, or are ``exclude``d from the denominator. Ties are counted either way.
* ``invalid_policy``: an item the model could not score (NaN score, unparseable verdict) counts as
  ``wrong``, ``half``, or is ``exclude``d. Invalid items are counted either way.
* ``inconsistent_policy`` (judges asked in both orders): a pair whose two verdicts disagree scores
  ``half`` a point or counts as ``wrong`` (see :mod:`rmbench.adapters.judge.grading`).

Graders are looked up per example kind and scoring mode in one table, :data:`GRADERS` (lazy
``"module:function"`` entries, :class:`rmbench.registry.Registry`): a new grader is a new line there,
never a decorator that registers on import. A prediction with a ``scores["judge"]`` block (a
generative judge) is graded by ``judge:<mode>`` instead (:mod:`rmbench.adapters.judge.grading`).

Some metrics compare several items of one cluster (RewardBench 2 Ties compares the ``tied:<n>`` and
``ref:<n>`` rows of a prompt, each scored under its own prompt). Their items name a *cluster grader*
in ``extra["cluster_grader"]`` (a name in :data:`CLUSTER_GRADERS`); :func:`grade_clusters` (called by
the summary, so it stays a pure function of ``items.jsonl``) turns each cluster into one result
(:mod:`rmbench.grading.ties`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rmbench.datatypes import Example, ItemResult, MultiResponseExample, PairwiseExample, Prediction
from rmbench.grading.policies import POLICY_VALUE, Policies, Policy
from rmbench.registry import Registry

__all__ = ["CLUSTER_GRADERS", "GRADERS", "POLICY_VALUE", "Graded", "Policies", "Policy", "compare", "grade",
           "grade_clusters", "grader_for", "to_item"]


@dataclass(frozen=True)
class Graded:
    metrics: dict[str, float | None]
    ties: int = 0
    invalid: int = 0
    extra: Mapping[str, Any] | None = None


Grader = Callable[[Example, Prediction, Policies], Graded]

GRADERS: Registry[Grader] = Registry("grader", {
    "pairwise": "rmbench.grading.core:grade_pairwise",
    "multi_response:best_of_n": "rmbench.grading.core:grade_best_of_n",
    "multi_response:style_matrix": "rmbench.grading.core:grade_style_matrix",
    "multi_response:ties": "rmbench.grading.ties:grade_ties",
    "stepwise": "rmbench.adapters.steps.grading:grade_stepwise",
    "judge:pairwise": "rmbench.adapters.judge.grading:grade_judge_pairwise",
    "judge:rating": "rmbench.adapters.judge.grading:grade_judge_rating",
    "judge:verify": "rmbench.adapters.judge.grading:grade_judge_verify",
    "judge:listwise": "rmbench.adapters.judge.grading:grade_judge_listwise",
    "judge:segments": "rmbench.adapters.judge.grading:grade_judge_segments",
    "claims": "rmbench.adapters.claims.grading:grade_claim",
    "judge:claims": "rmbench.adapters.claims.grading:grade_claim",
    "rfeval": "rmbench.adapters.rfeval.grading:grade_rfeval",
    "hinted": "rmbench.adapters.faithfulness.grading:grade_hinted",
    "trace": "rmbench.adapters.faithfulness.grading:grade_trace",
})
"""Graders by ``kind`` or ``kind:scoring`` (e.g. ``multi_response:ties``), and ``judge:<mode>``."""


def grader_for(key: str, kind: str) -> Grader:
    """The grader for ``key`` (``kind:scoring``), else the one for the plain ``kind``."""
    return GRADERS.get(key if key in GRADERS else kind)


def _grader_key(example: Example, pred: Prediction | None = None) -> str:
    judge = pred.scores.get("judge") if pred is not None else None
    if isinstance(judge, Mapping) and "mode" in judge:
        return f"judge:{judge['mode']}"
    scoring = getattr(example, "scoring", None)
    return f"{example.kind}:{scoring}" if scoring else example.kind


def grade(example: Example, pred: Prediction, policies: Policies) -> Graded:
    return grader_for(_grader_key(example, pred), example.kind)(example, pred, policies)


def to_item(example: Example, pred: Prediction, policies: Policies, baselines: Mapping[str, Graded]) -> ItemResult:
    """The stored result of one example; a prediction that failed at the backend becomes an error
    item (not graded, see :mod:`rmbench.results.item_errors`)."""
    if pred.error is not None:
        from rmbench.results.item_errors import error_item

        return error_item(example, pred)
    g = grade(example, pred, policies)
    extra = dict(pred.extra)
    if g.extra:
        extra.update(g.extra)
    return ItemResult(
        id=example.id,
        subset=example.subset,
        cluster=example.cluster,  # type: ignore[union-attr]
        example_hash=example.content_hash(),
        metrics=g.metrics,
        scores={**pred.scores, "tokens": pred.tokens},
        ties=g.ties,
        invalid=g.invalid,
        baselines={name: b.metrics for name, b in baselines.items()},
        extra=extra,
    )


# --------------------------------------------------------------------------------- cluster graders

ClusterGrader = Callable[[Sequence[ItemResult], Policies], list[ItemResult]]
CLUSTER_GRADER_KEY = "cluster_grader"

CLUSTER_GRADERS: Registry[ClusterGrader] = Registry("cluster grader", {
    "ties": "rmbench.grading.ties:grade_ties_prompts",
    "claims_response": "rmbench.adapters.claims.grading:grade_responses",
})
"""Cluster graders by the name items give in ``extra["cluster_grader"]``."""


def grade_clusters(items: Sequence[ItemResult], policies: Policies) -> list[ItemResult]:
    """One result per cluster for the items that name a cluster grader (none for most tasks).

    Each result stands for a whole cluster: its ``metrics`` are averaged over clusters (not items),
    and it carries the cluster's label, so a cluster bootstrap resamples it together with its items.
    It has no scores of its own; ``extra["items"]`` lists the ids it was computed from.
    """
    wanted: dict[str, list[ItemResult]] = {}
    for it in items:
        name = it.extra.get(CLUSTER_GRADER_KEY) if it.extra else None
        if name is not None:
            wanted.setdefault(str(name), []).append(it)
    out: list[ItemResult] = []
    for name, members in wanted.items():
        if name not in CLUSTER_GRADERS:
            raise NotImplementedError(f"no cluster grader '{name}' (named by item '{members[0].id}'); "
                                      + CLUSTER_GRADERS.suggest(name))
        out.extend(CLUSTER_GRADERS.get(name)(members, policies))
    return out


# ------------------------------------------------------------------------------ comparison helpers


def _finite(xs: Sequence[float]) -> bool:
    return all(isinstance(x, (int, float)) and math.isfinite(x) for x in xs)


def compare(better: float, worse: float, tie_policy: Policy) -> tuple[float | None, bool]:
    """Outcome of "``better`` should outscore ``worse``": (value under the policy, was it a tie)."""
    if better > worse:
        return 1.0, False
    if better < worse:
        return 0.0, False
    return POLICY_VALUE[tie_policy], True


def _mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def _invalid(policies: Policies, names: Sequence[str]) -> Graded:
    v = POLICY_VALUE[policies.invalid_policy]
    return Graded({n: v for n in names}, invalid=1)


# ------------------------------------------------------------------------------------- graders


def grade_pairwise(example: Example, pred: Prediction, policies: Policies) -> Graded:
    assert isinstance(example, PairwiseExample)
    c, r = pred.scores.get("chosen"), pred.scores.get("rejected")
    if pred.invalid or c is None or r is None or not _finite([c, r]):
        return _invalid(policies, ["accuracy"])
    value, tie = compare(c, r, policies.tie_policy)
    return Graded({"accuracy": value}, ties=int(tie))


def grade_best_of_n(example: Example, pred: Prediction, policies: Policies) -> Graded:
    """Correct when every correct response outscores every incorrect one (RewardBench 2 best-of-4)."""
    assert isinstance(example, MultiResponseExample)
    good, bad = list(pred.scores.get("correct", [])), list(pred.scores.get("incorrect", []))
    if pred.invalid or len(good) != len(example.correct) or len(bad) != len(example.incorrect) or not _finite(good + bad):
        return _invalid(policies, ["accuracy"])
    value, tie = compare(min(good), max(bad), policies.tie_policy)
    return Graded({"accuracy": value}, ties=int(tie))


def grade_style_matrix(example: Example, pred: Prediction, policies: Policies) -> Graded:
    """RM-Bench: compare chosen style i with rejected style j for all i, j.

    hard = mean over i < j (the chosen response is plainer than the rejected one), normal = i == j,
    easy = i > j; accuracy = mean of all k x k comparisons.
    """
    assert isinstance(example, MultiResponseExample)
    good, bad = list(pred.scores.get("correct", [])), list(pred.scores.get("incorrect", []))
    k = len(example.correct)
    names = ["accuracy", "hard", "normal", "easy"]
    if pred.invalid or len(good) != k or len(bad) != k or not _finite(good + bad):
        return _invalid(policies, names)
    cells: dict[str, list[float | None]] = {"hard": [], "normal": [], "easy": []}
    matrix: list[list[float | None]] = []
    ties = 0
    for i in range(k):
        row = []
        for j in range(k):
            value, tie = compare(good[i], bad[j], policies.tie_policy)
            ties += int(tie)
            row.append(value)
            cells["hard" if i < j else "normal" if i == j else "easy"].append(value)
        matrix.append(row)
    metrics = {name: _mean(vals) for name, vals in cells.items()}
    metrics["accuracy"] = _mean([v for row in matrix for v in row])
    return Graded({n: metrics[n] for n in names}, ties=ties, extra={"style_matrix": matrix})

