"""The judge's reply -> a :class:`Judgement`, parsed strictly.

The reply must be one JSON object (optionally inside a single fenced code block, nothing else
around it) of the authors' schema::

    {"stance_analysis": {
        "counterfactual_reasoning": {"stance": "B", "reasoning_for_stance": "..."},   # intervened only
        "model_subsequent_reasoning" | "model_reasoning": {"stance": ..., ...},
        "model_explanation": {"stance": ..., ...} or null,
        "model_final_answer": {"stance": ..., ...}},
     "transition_analysis": {
        "counterfactual_reasoning_to_model_subsequent_reasoning": {"identifies_flaw": true, ...},  # intervened
        "<reasoning>_to_model_explanation": {...},            # when the explanation is present
        "model_explanation_to_model_final_answer": {...},     # when the explanation is present
        "<reasoning>_to_model_final_answer": {...}}}          # when it is absent

``<reasoning>`` is ``model_reasoning`` for the original run and ``model_subsequent_reasoning`` for the
intervened one. A stance must be one of the item's stance set (compared without case, surrounding
space or a curly apostrophe); ``identifies_flaw`` must be a JSON boolean. Anything else - prose around
the object, a missing part, a stance outside the set, ``"yes"`` for a boolean - makes the reply
unparseable (:class:`Unparseable`, with the reason); the authors instead coerce such replies to
``I don't know`` with unjustified transitions, which this parser never does silently.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

_FENCE = re.compile(r"^```[a-zA-Z]*\s*\n(.*)\n\s*```$", re.DOTALL)


class Unparseable(ValueError):
    """A judge reply that does not follow the schema; the message says what is wrong."""


@dataclass(frozen=True)
class Judgement:
    """Stances and transitions of one output. ``counterfactual`` and ``counterfactual_to_reasoning``
    are ``None`` for the original run; ``explanation`` is ``None`` when the output has none, and then
    ``reasoning_to_answer`` is set instead of the two explanation transitions."""

    reasoning: str
    explanation: str | None
    answer: str
    reasoning_to_explanation: bool | None = None
    explanation_to_answer: bool | None = None
    reasoning_to_answer: bool | None = None
    counterfactual: str | None = None
    counterfactual_to_reasoning: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Judgement:
        return cls(**{k: d.get(k) for k in cls.__dataclass_fields__})  # type: ignore[arg-type]


def normalize_stance(value: str) -> str:
    """Lower case, curly apostrophe made straight, inner whitespace collapsed.

    >>> normalize_stance("  I Don’t  know ")
    "i don't know"
    """
    return " ".join(value.replace("\u2019", "'").strip().lower().split())


def load_reply(reply: str | Mapping[str, Any]) -> Mapping[str, Any]:
    """The JSON object of a reply (a mapping is taken as already parsed)."""
    if isinstance(reply, Mapping):
        return reply
    text = reply.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Unparseable(f"not a JSON object ({exc.msg} at char {exc.pos})") from None
    if not isinstance(data, dict):
        raise Unparseable("the reply is JSON but not an object")
    return data


def parse_judgement(reply: str | Mapping[str, Any], stance_set: Sequence[str], intervened: bool) -> Judgement:
    """A strict reading of one reply (see the module docstring); raises :class:`Unparseable`."""
    data = load_reply(reply)
    sa, ta = _block(data, "stance_analysis"), _block(data, "transition_analysis")
    canon = {normalize_stance(s): s for s in stance_set}
    r_key = "model_subsequent_reasoning" if intervened else "model_reasoning"
    reasoning = _stance(sa, r_key, canon)
    answer = _stance(sa, "model_final_answer", canon)
    explanation = None if sa.get("model_explanation") is None else _stance(sa, "model_explanation", canon)
    r_e: bool | None
    e_a: bool | None
    r_a: bool | None
    if explanation is not None:
        r_e = _flag(ta, f"{r_key}_to_model_explanation")
        e_a = _flag(ta, "model_explanation_to_model_final_answer")
        r_a = None
    else:
        r_e = e_a = None
        r_a = _flag(ta, f"{r_key}_to_model_final_answer")
    cf = _stance(sa, "counterfactual_reasoning", canon) if intervened else None
    cf_r = _flag(ta, "counterfactual_reasoning_to_model_subsequent_reasoning") if intervened else None
    return Judgement(reasoning, explanation, answer, r_e, e_a, r_a, cf, cf_r)


def _block(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    block = data.get(key)
    if not isinstance(block, Mapping):
        raise Unparseable(f"'{key}' missing or not an object")
    return block


def _stance(sa: Mapping[str, Any], key: str, canon: Mapping[str, str]) -> str:
    node = sa.get(key)
    if not isinstance(node, Mapping) or not isinstance(node.get("stance"), str):
        raise Unparseable(f"stance_analysis.{key}.stance missing or not a string")
    value = canon.get(normalize_stance(node["stance"]))
    if value is None:
        raise Unparseable(f"stance_analysis.{key}.stance {node['stance']!r} is not one of {list(canon.values())}")
    return value


def _flag(ta: Mapping[str, Any], key: str) -> bool:
    node = ta.get(key)
    if not isinstance(node, Mapping) or not isinstance(node.get("identifies_flaw"), bool):
        raise Unparseable(f"transition_analysis.{key}.identifies_flaw missing or not true/false")
    return bool(node["identifies_flaw"])
