"""Grade generative-judge predictions (``scores["judge"]``, see :mod:`rmbench.adapters.judge.adapter`).

:func:`rmbench.grading.core.grade` sends a prediction with a ``judge`` block to the grader registered
as ``judge:<mode>``. Policies (all recorded in the run summary):

* an unparseable verdict makes the item **invalid**: its metrics take the run's ``invalid_policy``
  (wrong / half / exclude) and the per-item metric ``unparseable`` (share of the item's requests
  left unparseable after any retries) is always reported;
* a tie verdict (``pairwise_tie`` prompt, equal ratings) follows ``tie_policy`` and is counted;
* a pair judged in both orders is *consistent* when both orders prefer the same response. A
  consistent pair scores 1 or 0; an inconsistent one scores by ``inconsistent_policy``: ``half``
  (the mean of the two orders, i.e. position-averaged accuracy) or ``wrong`` (a pair counts only
  when the judge is right in both orders).

Per-item metrics by mode:

* pairwise: ``accuracy``; ``first_slot`` (share of parsed, non-tie verdicts that picked the
  response shown first: 0.5 means no position preference); with ``swap=both`` also ``consistent``
  and ``acc_consistent`` (accuracy among consistent pairs; None for inconsistent ones), and, when the
  backend gave first-token probabilities, ``prob_accuracy``: whether P(chosen) averaged over the two
  orders exceeds 0.5 (position bias cancels in the average; an exact 0.5 follows ``tie_policy``). On
  multi-response items every correct x incorrect pair is judged: best_of_n needs every pair won,
  style_matrix reports ``hard``/``normal``/``easy`` like RM-Bench.
* rating: the example kind's usual metrics computed from the ratings (ties are common with integer
  grades); pointwise items with a numeric label get ``abs_error``.
* verify: ``accuracy`` (verdict equals the gold YES/NO), ``says_yes``, ``false_positive`` (gold NO:
  1 - accuracy, so an unparseable reply under ``wrong`` counts as a false YES) and
  ``true_positive`` (gold YES: accuracy).
* listwise: ``accuracy`` (share of orders whose pick is a correct response), ``first_slot``,
  ``consistent`` (every order picked the same response; with ``swap=both``).
* segments (FELM; the *positive* class is a non-factual segment): ``seg_tp``, ``seg_fp``, ``seg_fn``,
  ``seg_tn`` (counts over the item's segments) and ``resp_tp`` ... ``resp_tn`` (the response is
  non-factual when any segment is; 0/1 per item), for the task's F1 / balanced-accuracy aggregates.
  An unparseable segment counts as the wrong prediction (``wrong``), half of each (``half``), or
  is left out (``exclude``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rmbench.datatypes import (
    Example,
    ItemResult,
    MultiResponseExample,
    PairwiseExample,
    PointwiseExample,
    Prediction,
    SegmentExample,
)
from rmbench.errors import UserError
from rmbench.grading.core import POLICY_VALUE, Graded, Policies, grader_for

_YES, _NO = "YES", "NO"


def _block(pred: Prediction) -> Mapping[str, Any]:
    block = pred.scores.get("judge")
    if not isinstance(block, Mapping):
        raise ValueError("not a judge prediction (no scores['judge'] block)")
    return block


def _unparseable(asks: Sequence[Mapping[str, Any]]) -> float | None:
    return sum(a.get("verdict") is None for a in asks) / len(asks) if asks else None


def _mean(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


# -------------------------------------------------------------------------------------- pairwise


def _pair(records: Sequence[Mapping[str, Any]], policies: Policies) -> dict[str, Any]:
    """Outcome of one pair judged in one or two orders (records carry ``picked`` and ``order``)."""
    picks = [r["picked"] for r in records]
    first = [(p == "chosen") == (r["order"] == "chosen_first") for p, r in zip(picks, records, strict=True)
             if p in ("chosen", "rejected")]
    out: dict[str, Any] = {
        "invalid": any(p is None for p in picks),
        "ties": sum(p == "tie" for p in picks),
        "first_slot": _mean([float(f) for f in first]),
        "consistent": None,
        "prob": None,
    }
    tie_value = POLICY_VALUE[policies.tie_policy]
    probs = [r.get("p_chosen") for r in records]
    if len(records) == 2 and all(p is not None for p in probs):
        mean_p = sum(probs) / 2  # type: ignore[arg-type]
        out["prob"] = 1.0 if mean_p > 0.5 else 0.0 if mean_p < 0.5 else tie_value
    values = [1.0 if p == "chosen" else 0.0 if p == "rejected" else tie_value for p in picks]
    if out["invalid"]:
        out["value"] = POLICY_VALUE[policies.invalid_policy]
    elif len(picks) == 1:
        out["value"] = values[0]
    else:
        out["consistent"] = float(len(set(picks)) == 1)
        if out["consistent"]:
            out["value"] = values[0]
        else:
            out["value"] = 0.5 if policies.inconsistent_policy == "half" else 0.0
    return out


def _pairs_of(block: Mapping[str, Any]) -> dict[str, list[Mapping[str, Any]]]:
    pairs: dict[str, list[Mapping[str, Any]]] = {}
    for rec in block["asks"]:
        pairs.setdefault(rec["pair"], []).append(rec)
    return pairs


def grade_judge_pairwise(example: Example, pred: Prediction, policies: Policies) -> Graded:
    """Pairwise verdicts (one or both orders) -> accuracy and position-bias metrics."""
    block = _block(pred)
    outcomes = {key: _pair(recs, policies) for key, recs in _pairs_of(block).items()}
    both = block.get("swap") == "both"
    metrics: dict[str, float | None] = {}
    ties = sum(o["ties"] for o in outcomes.values())
    invalid = int(any(o["invalid"] for o in outcomes.values()))
    if isinstance(example, PairwiseExample):
        o = outcomes["pair"]
        metrics["accuracy"] = o["value"]
    else:
        assert isinstance(example, MultiResponseExample)
        metrics.update(_multi_pairs(example, outcomes, policies))
    if both:
        metrics["consistent"] = _mean([o["consistent"] for o in outcomes.values()])
        metrics["acc_consistent"] = _mean([o["value"] for o in outcomes.values() if o["consistent"] == 1.0])
        if isinstance(example, PairwiseExample) and outcomes["pair"]["prob"] is not None:
            metrics["prob_accuracy"] = outcomes["pair"]["prob"]
    metrics["first_slot"] = _mean([o["first_slot"] for o in outcomes.values()])
    metrics["unparseable"] = _unparseable(block["asks"])
    return Graded(metrics, ties=ties, invalid=invalid)


def _multi_pairs(
    example: MultiResponseExample, outcomes: Mapping[str, Mapping[str, Any]], policies: Policies
) -> dict[str, float | None]:
    value = {key: o["value"] for key, o in outcomes.items()}
    if any(o["invalid"] for o in outcomes.values()):
        names = ["accuracy", "hard", "normal", "easy"] if example.scoring == "style_matrix" else ["accuracy"]
        return {n: POLICY_VALUE[policies.invalid_policy] for n in names}
    if example.scoring == "best_of_n":
        vals = list(value.values())
        return {"accuracy": None if any(v is None for v in vals) else min(vals)}  # type: ignore[type-var]
    if example.scoring != "style_matrix":
        raise UserError(f"item {example.id}: pairwise judging does not grade '{example.scoring}' items")
    k = len(example.correct)
    cells: dict[str, list[float | None]] = {"hard": [], "normal": [], "easy": []}
    for i in range(k):
        for j in range(k):
            cells["hard" if i < j else "normal" if i == j else "easy"].append(value[f"c{i}-i{j}"])
    out = {name: _mean(vals) for name, vals in cells.items()}
    out["accuracy"] = _mean(list(value.values()))
    return out


# ---------------------------------------------------------------------------------------- rating


def grade_judge_rating(example: Example, pred: Prediction, policies: Policies) -> Graded:
    """Ratings -> the example kind's usual grading (higher rating = preferred response)."""
    block = _block(pred)
    asks = block["asks"]
    rating = {a["key"]: (float(a["verdict"]) if a["verdict"] is not None else None) for a in asks}
    unparseable = _unparseable(asks)
    if isinstance(example, PointwiseExample):
        try:
            gold = float(example.label)
        except ValueError:
            raise UserError(f"item {example.id}: rating needs a numeric label, got {example.label!r}") from None
        r = rating["response"]
        if r is None:
            return Graded({"abs_error": None, "unparseable": unparseable}, invalid=1)
        return Graded({"abs_error": abs(r - gold), "unparseable": unparseable})
    if isinstance(example, PairwiseExample):
        scores: dict[str, Any] = {"chosen": rating["chosen"], "rejected": rating["rejected"]}
    else:
        assert isinstance(example, MultiResponseExample)
        scores = {
            "correct": [rating[f"c{i}"] for i in range(len(example.correct))],
            "incorrect": [rating[f"i{j}"] for j in range(len(example.incorrect))],
        }
    base_key = f"{example.kind}:{example.scoring}" if isinstance(example, MultiResponseExample) else example.kind
    base = grader_for(base_key, example.kind)
    invalid = any(v is None for v in rating.values())
    g = base(example, Prediction(scores=scores, invalid=invalid), policies)
    return Graded({**g.metrics, "unparseable": unparseable}, ties=g.ties, invalid=g.invalid, extra=g.extra)


# ---------------------------------------------------------------------------------------- verify


def _yes_no(label: str, item_id: str) -> str:
    norm = label.strip().upper()
    if norm in ("YES", "TRUE", "1", "CORRECT"):
        return _YES
    if norm in ("NO", "FALSE", "0", "INCORRECT"):
        return _NO
    raise UserError(f"item {item_id}: reference verification needs a YES/NO label, got {label!r}")


def grade_judge_verify(example: Example, pred: Prediction, policies: Policies) -> Graded:
    """YES/NO verdicts against a gold YES/NO label."""
    assert isinstance(example, PointwiseExample)
    block = _block(pred)
    verdict = block["asks"][0]["verdict"]
    gold = _yes_no(example.label, example.id)
    if verdict is None:
        acc = POLICY_VALUE[policies.invalid_policy]
        invalid = 1
    else:
        acc, invalid = float(verdict == gold), 0
    wrong = None if acc is None else 1.0 - acc
    metrics = {
        "accuracy": acc,
        "says_yes": None if verdict is None else float(verdict == _YES),
        "false_positive": wrong if gold == _NO else None,
        "true_positive": acc if gold == _YES else None,
        "unparseable": _unparseable(block["asks"]),
    }
    return Graded(metrics, invalid=invalid)


# -------------------------------------------------------------------------------------- listwise


def grade_judge_listwise(example: Example, pred: Prediction, policies: Policies) -> Graded:
    """Best-of-N picks over one or more seeded orders of the candidates."""
    block = _block(pred)
    asks = block["asks"]
    invalid = any(a["verdict"] is None for a in asks)
    if invalid:
        acc = POLICY_VALUE[policies.invalid_policy]
    else:
        acc = sum(bool(a["picked_correct"]) for a in asks) / len(asks)
    metrics: dict[str, float | None] = {"accuracy": acc}
    parsed = [a for a in asks if a["verdict"] is not None]
    if len(asks) > 1:
        metrics["consistent"] = None if invalid else float(len({a["picked"] for a in asks}) == 1)
    metrics["first_slot"] = _mean([float(a["verdict"] == "1") for a in parsed])
    metrics["unparseable"] = _unparseable(asks)
    return Graded(metrics, invalid=int(invalid))


# -------------------------------------------------------------------------------------- segments


def _segment_counts(labels: Sequence[bool], verdicts: Sequence[str | None], policy: str) -> dict[str, float]:
    """tp/fp/fn/tn over segments, positive = non-factual (gold label False, verdict NO)."""
    c = {"tp": 0.0, "fp": 0.0, "fn": 0.0, "tn": 0.0}
    for factual, verdict in zip(labels, verdicts, strict=True):
        gold_error = not factual
        if verdict is None:
            if policy == "exclude":
                continue
            share = 1.0 if policy == "wrong" else 0.5
            c["fn" if gold_error else "fp"] += share
            if share < 1.0:
                c["tp" if gold_error else "tn"] += 1.0 - share
            continue
        said_error = verdict == _NO
        c[("tp" if said_error else "fn") if gold_error else ("fp" if said_error else "tn")] += 1.0
    return c


def _response_counts(labels: Sequence[bool], verdicts: Sequence[str | None], policy: str) -> dict[str, float | None]:
    """The same four cells for the whole response (non-factual when any segment is)."""
    gold_error = not all(labels)
    if any(v == _NO for v in verdicts):
        said: float | None = 1.0
    elif all(v is not None for v in verdicts):
        said = 0.0
    else:
        said = None if policy == "exclude" else (0.0 if gold_error else 1.0) if policy == "wrong" else 0.5
    if said is None:
        return {"tp": None, "fp": None, "fn": None, "tn": None}
    if gold_error:
        return {"tp": said, "fn": 1.0 - said, "fp": 0.0, "tn": 0.0}
    return {"tp": 0.0, "fn": 0.0, "fp": said, "tn": 1.0 - said}


def grade_judge_segments(example: Example, pred: Prediction, policies: Policies) -> Graded:
    """FELM-style segment verdicts -> segment- and response-level confusion counts."""
    assert isinstance(example, SegmentExample)
    block = _block(pred)
    verdicts = [a["verdict"] for a in block["asks"]]
    if len(verdicts) != len(example.labels):
        raise ValueError(f"item {example.id}: {len(verdicts)} verdicts for {len(example.labels)} segments")
    seg = _segment_counts(example.labels, verdicts, policies.invalid_policy)
    resp = _response_counts(example.labels, verdicts, policies.invalid_policy)
    metrics: dict[str, float | None] = {f"seg_{k}": v for k, v in seg.items()}
    metrics.update({f"resp_{k}": v for k, v in resp.items()})
    metrics["unparseable"] = _unparseable(block["asks"])
    return Graded(metrics, invalid=int(any(v is None for v in verdicts)))


# ------------------------------------------------------------------------------ parser rule counts


def verdict_rule_counts(items: Sequence[ItemResult]) -> dict[str, int] | None:
    """How many judge replies each parser rule read (``how`` of every ask: ``strict-first-line``,
    ``labelled``, ``last-mention``, ..., ``unparseable``), most frequent first; None without judge items.

    The summary records it so a lenient run shows which rules produced its verdicts.
    """
    counts: dict[str, int] = {}
    for it in items:
        block = it.scores.get("judge") if isinstance(it.scores, Mapping) else None
        if not isinstance(block, Mapping):
            continue
        for ask in block.get("asks") or []:
            how = str(ask.get("how", "unparseable"))
            counts[how] = counts.get(how, 0) + 1
    if not counts:
        return None
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
