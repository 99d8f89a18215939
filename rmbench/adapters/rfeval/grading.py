"""One RFEval prediction -> per-item metrics (the grader registered for example kind ``rfeval``).

Per-item metrics (the summary averages each over the items where it is not ``None``, with a
cluster-bootstrap CI, per task file and overall):

* ``rf``: the RF indicator on **contrast** items, ``None`` elsewhere -> its mean is the RF score;
* ``coverage``: 1 for a contrast item, 0 for a judged non-contrast item, ``None`` when neither output
  was judged -> its mean is the contrast share;
* ``accuracy``: the original run's final-answer stance equals the gold stance. An unparseable original
  judgement counts under the run's invalid policy (``--unparseable wrong|half|exclude``); an
  original output that was not judged (unfinished) is ``None``;
* ``unparseable``: 1 when a judge reply could not be parsed (after retries), of items judged at all;
* ``unfinished``: 1 when a generation was cut at ``max_new_tokens``;
* ``consistency_original`` / ``consistency_intervened`` (stance consistency chi) and
  ``causal_influence`` (kappa), on items with both outputs judged.

An unparseable reply leaves its output unjudged for RF and coverage, as the authors leave an invalid
evaluation out; the ``unparseable`` rate says how many.
"""

from __future__ import annotations

from rmbench.adapters.rfeval.adapter import judgements_of
from rmbench.adapters.rfeval.metrics import outcome
from rmbench.datatypes import Example, Prediction, RFEvalExample
from rmbench.grading.core import POLICY_VALUE, Graded, Policies

METRICS = ("rf", "coverage", "accuracy", "unparseable", "unfinished", "consistency_original",
           "consistency_intervened", "causal_influence")


def _flag(value: bool | None) -> float | None:
    return None if value is None else float(value)


def grade_rfeval(example: Example, pred: Prediction, policies: Policies) -> Graded:
    """Metrics of one item (see the module docstring)."""
    assert isinstance(example, RFEvalExample)
    block = pred.scores["rfeval"]
    original, intervened = judgements_of(block)
    o = outcome(original, intervened)
    judge = block.get("judge", {})
    asked = [j for j in judge.values() if j.get("source") in ("judge", "file")]
    bad = [j for j in asked if j.get("judgement") is None]
    if original is not None:
        accuracy: float | None = float(original.answer == example.gold_stance)
    elif judge.get("original", {}).get("source") in ("judge", "file"):
        accuracy = POLICY_VALUE[policies.invalid_policy]
    else:
        accuracy = None
    metrics = {
        "rf": _flag(o.rf) if o.contrast else None,
        "coverage": _flag(o.contrast),
        "accuracy": accuracy,
        "unparseable": float(bool(bad)) if asked else None,
        "unfinished": float(not all(block[s]["finished"] for s in ("original", "intervened"))),
        "consistency_original": _flag(o.consistent_original),
        "consistency_intervened": _flag(o.consistent_intervened),
        "causal_influence": _flag(o.causal_influence),
    }
    return Graded(metrics, invalid=int(bool(bad)), extra={"rf_label": pred.scores.get("label")})
