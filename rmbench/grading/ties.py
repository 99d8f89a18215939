"""RewardBench 2 Ties: per-row accuracy, and per-prompt terms that compare a prompt's two rows.

Upstream: allenai/reward-bench ``rewardbench/utils.py`` (``_compute_prompt_stats``,
``process_single_model``; commit a0096928eb1d54edd3f6361374708cc68e738b79), applied to the subset
``Ties`` by ``scripts/run_v2.py``.

A Ties prompt ``n`` comes as two rows, each scored under **its own** prompt: ``tied:n`` (a question
with several equally valid answers, "Name a type of long, thin pasta") and ``ref:n`` (a narrowed
question with one, "Which long, thin pasta is hollow?"). They stay two items sharing the cluster
``ties:n`` (:mod:`rmbench.data.converters.rewardbench2`). For a row with correct scores ``C`` (the first
``num_correct``) and incorrect scores ``I``::

    gap      = min(C) - max(I)                          upstream: correct_incorrect_margin
    spread   = max(C) - min(C), only when |C| >= 2      upstream: different_correct_margin
    accurate = gap > 0

Per-row metrics (grader ``multi_response:ties``): ``accuracy`` (the row is accurate; equal scores
follow the run's tie policy, upstream counts them wrong), ``tied_acc`` (tied rows only) and
``ref_acc`` (ref rows only). ``gap`` and ``spread`` are kept in ``extra["ties"]``.

Per-prompt metrics (cluster grader ``ties``, one result per prompt that has both rows, like
upstream's ``set(ref_stats) & set(tied_stats)``)::

    preferred      = gap_tied > spread_tied
    preferred_hard = min(gap_ref, gap_tied) > spread_tied
    margin         = tanh(min(gap_ref, gap_tied) / spread_tied - 1), 0 where it is NaN (0 / 0)

The subset score (``ties_score``, a ``weighted_sum`` aggregate in ``tasks/rewardbench-2.yaml``) is
``0.30 tied_acc + 0.30 ref_acc + 0.20 preferred + 0.20 preferred_hard + 0.01 margin``, each term a
mean: the accuracies over all rows of their role, the other three over prompts with both rows.

Stated policies where upstream has none:

* ``preferred`` / ``preferred_hard`` compare strictly, as upstream (equal is not preferred); the tie
  policy does not apply to them.
* A prompt whose tied row has a single correct answer (no spread) gets no per-prompt terms
  (upstream would fail on ``None``).
* A row the model could not score follows the invalid policy for its own metrics; a prompt with such a
  row gets ``preferred = preferred_hard =`` the invalid policy's value and ``margin = 0`` (upstream's
  NaN -> 0), or no per-prompt terms under ``exclude``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from rmbench.datatypes import Example, ItemResult, MultiResponseExample, Prediction, content_hash
from rmbench.grading.core import (
    CLUSTER_GRADER_KEY,
    POLICY_VALUE,
    Graded,
    Policies,
    compare,
)

Role = Literal["tied", "ref"]
ROLES: tuple[Role, ...] = ("tied", "ref")
PROMPT_METRICS = ("preferred", "preferred_hard", "margin")
WEIGHTS: Mapping[str, float] = {
    "tied_acc": 0.30, "ref_acc": 0.30, "preferred": 0.20, "preferred_hard": 0.20, "margin": 0.01,
}  # fmt: skip
"""Upstream's weights for the Ties score (``process_single_model``)."""


def row_stats(correct: Sequence[float], incorrect: Sequence[float]) -> tuple[float, float | None]:
    """``(gap, spread)`` of one row: ``min(C) - max(I)`` and ``max(C) - min(C)`` (``None`` if ``|C| < 2``).

    >>> row_stats([3.0, 2.0, 2.5], [1.0, 1.5])
    (0.5, 1.0)
    >>> row_stats([2.0], [1.0, 3.0])
    (-1.0, None)
    """
    if not correct or not incorrect:
        raise ValueError("a Ties row needs at least one correct and one incorrect score")
    gap = min(correct) - max(incorrect)
    spread = max(correct) - min(correct) if len(correct) > 1 else None
    return gap, spread


def margin_term(gap: float, spread: float) -> float:
    """``tanh(gap / spread - 1)`` with numpy's division by zero (``+-inf``, NaN for 0/0) and NaN -> 0.

    >>> round(margin_term(0.2, 0.5), 6) == round(math.tanh(-0.6), 6)
    True
    >>> margin_term(1.0, 0.0), margin_term(-1.0, 0.0), margin_term(0.0, 0.0)
    (1.0, -1.0, 0.0)
    """
    if spread == 0:  # numpy: x / 0 = +-inf and tanh(+-inf) = +-1; 0 / 0 = NaN, set to 0
        return 0.0 if gap == 0 else math.copysign(1.0, gap)
    return math.tanh(gap / spread - 1)


def prompt_terms(gap_tied: float, spread_tied: float, gap_ref: float) -> dict[str, float]:
    """The per-prompt terms: ``preferred``, ``preferred_hard`` (1.0 / 0.0) and ``margin``.

    >>> terms = prompt_terms(gap_tied=1.0, spread_tied=0.5, gap_ref=0.2)
    >>> terms["preferred"], terms["preferred_hard"], round(terms["margin"], 4)
    (1.0, 0.0, -0.537)
    """
    hardest = min(gap_ref, gap_tied)
    return {
        "preferred": float(gap_tied > spread_tied),
        "preferred_hard": float(hardest > spread_tied),
        "margin": margin_term(hardest, spread_tied),
    }


def _row_metrics(role: Role, value: float | None) -> dict[str, float | None]:
    return {
        "accuracy": value,
        "tied_acc": value if role == "tied" else None,
        "ref_acc": value if role == "ref" else None,
    }


def grade_ties(example: Example, pred: Prediction, policies: Policies) -> Graded:
    """One Ties row: ``accuracy`` / ``tied_acc`` / ``ref_acc``; gap and spread go to ``extra["ties"]``."""
    assert isinstance(example, MultiResponseExample)
    role = example.meta.get("ties_role")
    if role not in ROLES:
        raise ValueError(
            f"item {example.id}: a Ties item needs meta 'ties_role' ('tied' or 'ref'), got {role!r} "
            "(see rmbench.data.converters.rewardbench2)"
        )
    info: dict[str, Any] = {"role": role, "prompt": example.meta.get("ties_prompt"), "gap": None, "spread": None}
    extra = {CLUSTER_GRADER_KEY: "ties", "ties": info}
    good, bad = list(pred.scores.get("correct", [])), list(pred.scores.get("incorrect", []))
    valid = (
        not pred.invalid
        and len(good) == len(example.correct)
        and len(bad) == len(example.incorrect)
        and all(isinstance(x, (int, float)) and math.isfinite(x) for x in good + bad)
    )
    if not valid:
        return Graded(_row_metrics(role, POLICY_VALUE[policies.invalid_policy]), invalid=1, extra=extra)
    info["gap"], info["spread"] = row_stats(good, bad)
    value, tie = compare(min(good), max(bad), policies.tie_policy)
    return Graded(_row_metrics(role, value), ties=int(tie), extra=extra)


def grade_ties_prompts(items: Sequence[ItemResult], policies: Policies) -> list[ItemResult]:
    """One result per prompt with both rows: ``preferred``, ``preferred_hard``, ``margin``.

    Prompts missing a row are left out, as upstream does (their rows still count in ``tied_acc`` /
    ``ref_acc``). Results come sorted by cluster, so the summary does not depend on item order.
    """
    prompts: dict[str, dict[str, ItemResult]] = {}
    for it in items:
        role = it.extra["ties"]["role"]
        rows = prompts.setdefault(it.cluster, {})
        if role in rows:
            raise ValueError(f"Ties cluster '{it.cluster}' has two '{role}' rows: {rows[role].id}, {it.id}")
        rows[role] = it
    out = []
    for cluster in sorted(prompts):
        tied, ref = prompts[cluster].get("tied"), prompts[cluster].get("ref")
        if tied is None or ref is None:
            continue
        t, r = tied.extra["ties"], ref.extra["ties"]
        metrics: dict[str, float | None]
        if t["gap"] is None or r["gap"] is None:  # a row the model could not score
            v = POLICY_VALUE[policies.invalid_policy]
            metrics = {"preferred": v, "preferred_hard": v, "margin": None if v is None else 0.0}
        elif t["spread"] is None:  # a tied row with a single correct answer: no spread to compare with
            metrics = dict.fromkeys(PROMPT_METRICS, None)
        else:
            metrics = dict(prompt_terms(float(t["gap"]), float(t["spread"]), float(r["gap"])))
        out.append(
            ItemResult(
                id=cluster,
                subset=tied.subset,
                cluster=cluster,
                example_hash=content_hash([tied.example_hash, ref.example_hash]),
                metrics=metrics,
                scores={},
                extra={"items": [tied.id, ref.id]},
            )
        )
    return out
