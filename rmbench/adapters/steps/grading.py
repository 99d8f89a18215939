"""Grade step-level predictions (process reward models, critics) against first-error annotations.

Registered for ``StepwiseExample`` (grader key ``stepwise``). It reads these prediction keys:

* ``first_error``: the predicted 0-based index of the first wrong step, or ``None`` ("all correct");
  a process adapter derives it from its threshold, a critic reads it from the model's answer;
* ``step_scores`` (process adapters): one probability per step that the step is correct;
* ``threshold`` (process adapters): the threshold behind ``first_error``, reused for step-level counts;
* ``unparseable`` (critics): the fraction of the model's answers that could not be parsed.

Per-item metrics (``None`` where they do not apply, and then left out of that metric's denominator):

* ``acc_erroneous``: erroneous items only; 1 when the predicted first error is the annotated one;
* ``acc_correct``: all-correct items only; 1 when the prediction is "all correct";
* ``argmin_acc_erroneous`` (with step scores): erroneous items only; 1 when the lowest-scored step
  is the annotated first error: localisation without a threshold;
* ``step_tp``, ``step_fp``, ``step_tn``, ``step_fn`` (with step scores and per-step labels, as in
  PRMBench): counts of labelled steps, with *correct* as the positive class and a step predicted
  correct when its score is ``>= threshold``;
* ``unparseable`` (critics).

Task YAMLs combine them with ``scoring.aggregates``: ProcessBench's ``f1`` is the harmonic mean of
``acc_erroneous`` and ``acc_correct``; ``step_auroc`` (kind ``auroc`` of ``[step_scores,
step_labels]``) uses the ``step_labels`` this grader stores in the item's ``extra``.

Invalid predictions (an unparseable answer, a step lost to truncation, a first error out of range):
the run's ``invalid_policy`` applies to every accuracy (:data:`POLICY_METRICS`: ``acc_erroneous``,
``acc_correct`` and, for models with step scores, ``argmin_acc_erroneous``), so ``wrong`` counts the
item as 0 in each of them; the step-level counts and the step AUROC (:data:`NEEDS_SCORES`) cannot be
formed without finite step scores and leave invalid items out. ``report.md`` states both facts from
these two constants.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rmbench.adapters.steps.metrics import argmin_step, implied_step_labels
from rmbench.datatypes import Example, Prediction, StepwiseExample
from rmbench.grading.core import POLICY_VALUE, Graded, Policies

POLICY_METRICS = ("acc_erroneous", "acc_correct", "argmin_acc_erroneous")
"""Accuracies that give an invalid item the run's ``invalid_policy`` value."""
NEEDS_SCORES = ("step_tp", "step_fp", "step_tn", "step_fn", "step_auroc")
"""Step-level metrics that need finite step scores: invalid items are left out of them."""


def step_labels_of(example: StepwiseExample) -> list[int | None]:
    """Per-step labels: the example's own (PRMBench), else implied by its first error (ProcessBench)."""
    if example.step_labels is not None:
        return [None if v is None else int(v) for v in example.step_labels]
    return implied_step_labels(len(example.steps), example.first_error)


def _step_counts(scores: Sequence[float], labels: Sequence[int | None], threshold: float) -> dict[str, float]:
    tp = fp = tn = fn = 0
    for s, y in zip(scores, labels, strict=True):
        if y is None:
            continue
        good = s >= threshold
        if y == 1:
            tp, fn = tp + good, fn + (not good)
        else:
            fp, tn = fp + good, tn + (not good)
    return {"step_tp": float(tp), "step_fp": float(fp), "step_tn": float(tn), "step_fn": float(fn)}


def _finite(values: Sequence[object]) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


def grade_stepwise(example: Example, pred: Prediction, policies: Policies) -> Graded:
    """First-error accuracy (split by erroneous / all-correct items), threshold-free localisation,
    and step-level counts; see the module docstring."""
    assert isinstance(example, StepwiseExample)
    gold = example.first_error
    labels = step_labels_of(example)
    raw_scores = pred.scores.get("step_scores")
    scores = list(raw_scores) if isinstance(raw_scores, list) else None
    has_scores = scores is not None and len(scores) == len(example.steps) and _finite(scores)
    predicted = pred.scores.get("first_error")
    invalid = pred.invalid or (scores is not None and not has_scores)
    if not invalid and predicted is not None and not (isinstance(predicted, int) and 0 <= predicted < len(example.steps)):
        invalid = True
    metrics: dict[str, float | None] = {}
    if invalid:
        value = POLICY_VALUE[policies.invalid_policy]
        metrics["acc_erroneous"] = value if gold is not None else None
        metrics["acc_correct"] = value if gold is None else None
    else:
        metrics["acc_erroneous"] = float(predicted == gold) if gold is not None else None
        metrics["acc_correct"] = float(predicted is None) if gold is None else None
    if scores is not None:
        ok = has_scores and not invalid
        if gold is None:
            metrics["argmin_acc_erroneous"] = None
        else:
            metrics["argmin_acc_erroneous"] = float(argmin_step(scores) == gold) if ok else POLICY_VALUE[
                policies.invalid_policy]
        threshold = pred.scores.get("threshold")
        if example.step_labels is not None:
            if ok and isinstance(threshold, (int, float)):
                metrics.update(_step_counts(scores, labels, float(threshold)))
            else:
                metrics.update(dict.fromkeys(("step_tp", "step_fp", "step_tn", "step_fn")))
    if "unparseable" in pred.scores:
        metrics["unparseable"] = float(pred.scores["unparseable"])
    extra = {"gold_first_error": gold, "step_labels": labels, "predicted_first_error": None if invalid else predicted}
    return Graded(metrics, invalid=int(invalid), extra=extra)
