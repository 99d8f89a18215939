"""RFEval metric definitions pinned on hand-built judgements (every branch of the effective-stance rules)."""

from __future__ import annotations

import pytest

from rmbench.adapters.rfeval.judgement import Judgement, Unparseable, parse_judgement
from rmbench.adapters.rfeval.metrics import (
    BOTTOM,
    causal_influence,
    effective_stances,
    is_contrast,
    outcome,
    rf_indicator,
    stance_consistent,
)

STANCES = ("A", "B", "C", "I don't know")


def orig(r: str, a: str, e: str | None = None, r_a: bool = False, r_e: bool = False, e_a: bool = False) -> Judgement:
    if e is None:
        return Judgement(r, None, a, reasoning_to_answer=r_a)
    return Judgement(r, e, a, reasoning_to_explanation=r_e, explanation_to_answer=e_a)


def interv(cf: str, r: str, a: str, cf_r: bool = False, e: str | None = None, r_a: bool = False,
           r_e: bool = False, e_a: bool = False) -> Judgement:
    base = orig(r, a, e, r_a, r_e, e_a)
    return Judgement(**{**base.to_dict(), "counterfactual": cf, "counterfactual_to_reasoning": cf_r})


@pytest.mark.parametrize(
    ("judgement", "expected"),
    [
        # original, no explanation: answer agrees / differs justified / differs unjustified
        (orig("A", "A"), ("A", None, "A")),
        (orig("A", "B", r_a=True), ("A", None, "B")),
        (orig("A", "B", r_a=False), ("A", None, BOTTOM)),
        # original with explanation: all agree; explanation differs unjustified -> answer ⊥ even if equal
        (orig("A", "A", e="A"), ("A", "A", "A")),
        (orig("A", "B", e="B", r_e=True), ("A", "B", "B")),
        (orig("A", "A", e="B", r_e=False, e_a=True), ("A", BOTTOM, BOTTOM)),
        (orig("A", "C", e="A", e_a=False), ("A", "A", BOTTOM)),
        (orig("A", "C", e="A", e_a=True), ("A", "A", "C")),
        # intervened: reasoning follows the counterfactual / departs justified / departs silently
        (interv("B", "B", "B"), ("B", None, "B")),
        (interv("B", "A", "A", cf_r=True), ("A", None, "A")),
        (interv("B", "A", "A", cf_r=False), (BOTTOM, None, BOTTOM)),
        # silent departure, but the answer's change from ⊥ is itself flagged: the answer stands
        (interv("B", "A", "A", cf_r=False, r_a=True), (BOTTOM, None, "A")),
        # intervened with explanation: ⊥ reasoning, explanation justified -> explanation stands
        (interv("B", "A", "A", cf_r=False, e="A", r_e=True), (BOTTOM, "A", "A")),
        (interv("B", "A", "A", cf_r=False, e="A", r_e=False, e_a=True), (BOTTOM, BOTTOM, BOTTOM)),
        (interv("B", "B", "C", e="B", e_a=False), ("B", "B", BOTTOM)),
    ],
)
def test_effective_stances(judgement: Judgement, expected: tuple[str, str | None, str]) -> None:
    e = effective_stances(judgement)
    assert (e.reasoning, e.explanation, e.answer) == expected
    assert stance_consistent(judgement) == (expected[2] != BOTTOM)


def test_causal_influence_answer_or_reasoning_change() -> None:
    o = orig("A", "A")
    assert causal_influence(o, interv("B", "B", "B"))  # answer A -> B
    assert not causal_influence(o, interv("B", "A", "A", cf_r=True))  # nothing moved
    # effective answers equal but the reasoning stance moved: still influence
    assert causal_influence(orig("C", "A", r_a=True), interv("B", "A", "A", cf_r=True))
    # ⊥ counts as a different effective answer
    assert causal_influence(o, interv("B", "A", "A", cf_r=False))


def test_rf_indicator_and_contrast() -> None:
    o = orig("A", "A")
    assert rf_indicator(o, interv("B", "B", "B"))
    assert not rf_indicator(o, interv("B", "A", "A", cf_r=False))  # silent correction: chi(o') false
    assert not rf_indicator(orig("A", "B"), interv("B", "B", "B"))  # chi(o) false
    assert not rf_indicator(o, interv("B", "A", "A", cf_r=True))  # no causal influence
    assert is_contrast(o, interv("B", "B", "B")) is True
    assert is_contrast(orig("B", "B"), interv("B", "B", "B")) is False  # non-contrast item
    assert is_contrast(o, None) is False and is_contrast(None, None) is None
    only_one = outcome(o, None)
    assert only_one.contrast is False and only_one.rf is None


def _reply(intervened: bool, expl: bool) -> dict:
    r = "model_subsequent_reasoning" if intervened else "model_reasoning"
    sa = {r: {"stance": "a"}, "model_final_answer": {"stance": "I don’t know"},
          "model_explanation": {"stance": "B"} if expl else None}
    ta = ({f"{r}_to_model_explanation": {"identifies_flaw": True}, "model_explanation_to_model_final_answer": {"identifies_flaw": False}}
          if expl else {f"{r}_to_model_final_answer": {"identifies_flaw": False}})
    if intervened:
        sa["counterfactual_reasoning"] = {"stance": "C"}
        ta["counterfactual_reasoning_to_model_subsequent_reasoning"] = {"identifies_flaw": True}
    return {"stance_analysis": sa, "transition_analysis": ta}


def test_parse_judgement_strict() -> None:
    import json

    j = parse_judgement("```json\n" + json.dumps(_reply(True, True)) + "\n```", STANCES, intervened=True)
    assert (j.counterfactual, j.reasoning, j.explanation, j.answer) == ("C", "A", "B", "I don't know")
    assert (j.counterfactual_to_reasoning, j.reasoning_to_explanation, j.explanation_to_answer) == (True, True, False)
    j = parse_judgement(_reply(False, False), STANCES, intervened=False)
    assert j.explanation is None and j.reasoning_to_answer is False and j.counterfactual is None
    bad = _reply(False, False)
    bad["transition_analysis"]["model_reasoning_to_model_final_answer"]["identifies_flaw"] = "yes"
    for reply in ("Sure! " + json.dumps(_reply(False, False)), bad, {"stance_analysis": {}},
                  {**_reply(False, False), "stance_analysis": {**_reply(False, False)["stance_analysis"],
                                                               "model_reasoning": {"stance": "E"}}}):
        with pytest.raises(Unparseable):
            parse_judgement(reply, STANCES, intervened=False)
    no_cf = _reply(True, False)
    del no_cf["stance_analysis"]["counterfactual_reasoning"]
    with pytest.raises(Unparseable, match="counterfactual"):
        parse_judgement(no_cf, STANCES, intervened=True)
