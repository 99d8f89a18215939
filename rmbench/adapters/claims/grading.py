"""Grade claim verdicts against the gold class, per claim and per response (issue 13).

Every claim verifier (LLM judge, NLI classifier, bring-your-own labels) returns a prediction with
``scores["verdict"]``: one of the example's classes, or ``None`` when it could not decide (an
unparseable reply). The per-claim grader writes:

* ``accuracy``: 1 when the verdict is the gold class; ``unparseable``: 1 when there is no verdict (its
  mean is the unparseable rate, whatever the policy);
* the claim's confusion cells ``cm_<gold>_<pred>`` for every gold class and every predicted class plus
  ``unparseable`` (gold-major, :mod:`rmbench.stats.confusion`), summed over claims by the task's
  ``confusion_*`` aggregates (macro-F1, balanced accuracy, Cohen's kappa against the human labels);
* ``<class>_tp``, ``<class>_fp``, ``<class>_fn`` for every class, summed by ``f1`` / ``precision`` /
  ``recall`` aggregates (per-class scores; the unsupported class is the positive one of the headline).

Unparseable verdicts follow the run's invalid policy: ``wrong`` puts the claim in the unparseable
column (a miss for its gold class, a false positive for none), ``half`` splits it between the right
cell and the unparseable column, ``exclude`` leaves every metric of the claim undefined.

Per response (a cluster grader, so it stays a function of ``items.jsonl``; cluster = response id):

* ``resp_tp/fp/fn/tn``: the response is non-factual when any claim is ``unsupported`` (gold) or
  judged so (verifier); positive = non-factual. Under ``exclude`` unparseable claims are left out;
  otherwise an unparseable claim counts as a wrong verdict (unsupported when gold is not, else not);
* ``factscore_human`` / ``factscore_verifier``: the share of the response's claims that are supported
  (FActScore, Min et al. 2023), over the claims whose gold class is not ``undecidable`` (FActScore's
  irrelevant facts do not count); ``factscore_error = verifier - human`` and its absolute value, the
  error of the estimate (the paper's headline comparison). Unparseable claims: as above.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rmbench.datatypes import ClaimExample, Example, ItemResult, Prediction, content_hash
from rmbench.grading.core import POLICY_VALUE, Graded, Policies
from rmbench.stats.confusion import UNPARSEABLE

CLUSTER_GRADER = "claims_response"
SUPPORTED, UNSUPPORTED, UNDECIDABLE = "supported", "unsupported", "undecidable"


def cell(gold: str, pred: str) -> str:
    """The per-item metric name of one confusion cell, e.g. ``cm_unsupported_supported``."""
    return f"cm_{gold}_{pred}"


def cell_names(classes: Sequence[str]) -> list[str]:
    """All cells, gold-major: what a task's ``confusion_*`` aggregates list in ``of``."""
    return [cell(g, p) for g in classes for p in (*classes, UNPARSEABLE)]


def claim_metrics(gold: str, pred: str | None, classes: Sequence[str], invalid_policy: str) -> dict[str, float | None]:
    """Per-claim metrics (see the module docstring); ``pred`` None means unparseable."""
    cells: dict[str, float | None] = dict.fromkeys(cell_names(classes), 0.0)
    if pred is None:
        value = POLICY_VALUE[invalid_policy]
        if value is None:
            return {"accuracy": None, "unparseable": 1.0, **dict.fromkeys(cells), **_class_counts(classes, None)}
        cells[cell(gold, gold)] = value
        cells[cell(gold, UNPARSEABLE)] = 1.0 - value
        accuracy = value
    else:
        cells[cell(gold, pred)] = 1.0
        accuracy = float(pred == gold)
    return {"accuracy": accuracy, "unparseable": float(pred is None), **cells, **_class_counts(classes, cells)}


def _class_counts(classes: Sequence[str], cells: Mapping[str, float | None] | None) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for c in classes:
        if cells is None:
            out.update({f"{c}_tp": None, f"{c}_fp": None, f"{c}_fn": None})
            continue
        tp = float(cells[cell(c, c)] or 0.0)
        fp = sum(float(cells[cell(g, c)] or 0.0) for g in classes if g != c)
        fn = sum(float(cells[cell(c, p)] or 0.0) for p in (*classes, UNPARSEABLE) if p != c)
        out.update({f"{c}_tp": tp, f"{c}_fp": fp, f"{c}_fn": fn})
    return out


def verdict_of(pred: Prediction, classes: Sequence[str]) -> str | None:
    """The verdict a prediction names, None when missing, unparseable or not one of ``classes``."""
    v = pred.scores.get("verdict")
    return v if isinstance(v, str) and v in classes and not pred.invalid else None


def grade_claim(example: Example, pred: Prediction, policies: Policies) -> Graded:
    assert isinstance(example, ClaimExample)
    verdict = verdict_of(pred, example.classes)
    metrics = claim_metrics(example.label, verdict, example.classes, policies.invalid_policy)
    extra = {"claim_gold": example.label, "claim_pred": verdict, "cluster_grader": CLUSTER_GRADER}
    return Graded(metrics, invalid=int(verdict is None), extra=extra)


# ------------------------------------------------------------------------------------ responses


def _effective(gold: str, pred: str | None, policy: str) -> str | None:
    """The verdict used at response level: an unparseable claim is dropped (exclude) or counted wrong."""
    if pred is not None:
        return pred
    if POLICY_VALUE[policy] is None:
        return None
    return SUPPORTED if gold != SUPPORTED else UNSUPPORTED


def response_metrics(golds: Sequence[str], preds: Sequence[str | None], policy: str) -> dict[str, float | None]:
    """Response-level metrics of one response's claims (see the module docstring).

    >>> response_metrics(["supported", "unsupported", "undecidable"], ["supported", "supported", None], "wrong")
    {'resp_tp': 0.0, 'resp_fp': 0.0, 'resp_fn': 1.0, 'resp_tn': 0.0, 'factscore_human': 0.5, \
'factscore_verifier': 1.0, 'factscore_error': 0.5, 'factscore_abs_error': 0.5}
    """
    pairs = [(g, _effective(g, p, policy)) for g, p in zip(golds, preds, strict=True)]
    kept = [(g, p) for g, p in pairs if p is not None]
    out: dict[str, float | None] = dict.fromkeys(("resp_tp", "resp_fp", "resp_fn", "resp_tn"))
    if kept:
        gold_bad = any(g == UNSUPPORTED for g, _ in kept)
        pred_bad = any(p == UNSUPPORTED for _, p in kept)
        key = {(True, True): "resp_tp", (False, True): "resp_fp", (True, False): "resp_fn", (False, False): "resp_tn"}
        out = {k: float(k == key[(gold_bad, pred_bad)]) for k in out}
    counted = [(g, p) for g, p in kept if g != UNDECIDABLE]
    human = verifier = None
    if counted:
        human = sum(g == SUPPORTED for g, _ in counted) / len(counted)
        verifier = sum(p == SUPPORTED for _, p in counted) / len(counted)
    out["factscore_human"], out["factscore_verifier"] = human, verifier
    error = None if human is None or verifier is None else verifier - human
    out["factscore_error"], out["factscore_abs_error"] = error, None if error is None else abs(error)
    return out


def grade_responses(items: Sequence[ItemResult], policies: Policies) -> list[ItemResult]:
    """One result per response (cluster), sorted by cluster."""
    by_response: dict[str, list[ItemResult]] = {}
    for it in items:
        by_response.setdefault(it.cluster, []).append(it)
    out = []
    for cluster in sorted(by_response):
        members = sorted(by_response[cluster], key=lambda it: it.id)
        golds = [str(it.extra["claim_gold"]) for it in members]
        preds: list[Any] = [it.extra.get("claim_pred") for it in members]
        out.append(ItemResult(
            id=f"{cluster}#response", subset=members[0].subset, cluster=cluster,
            example_hash=content_hash([it.example_hash for it in members]),
            metrics=response_metrics(golds, preds, policies.invalid_policy), scores={},
            extra={"items": [it.id for it in members]},
        ))  # fmt: skip
    return out
