"""Typed, frozen records that flow between the steps of a run.

    TaskSpec -> records -> Example (this module) -> adapter -> Prediction -> grading -> ItemResult

Conventions, stated once:

* ``prompt`` is always a tuple of chat messages ``{"role": ..., "content": ...}``; a plain string
  prompt becomes one user message. The response being judged is *not* part of ``prompt``.
* ``cluster`` groups items that are not independent (e.g. several comparisons built from one
  prompt). Bootstrap intervals resample clusters. It defaults to the item id.
* Every example has a content hash over everything that influences its score, so a resumed or
  compared run can prove it saw the same item.

:class:`Prediction` and :class:`ItemResult` live in :mod:`rmbench.outcomes` and are re-exported here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from rmbench.outcomes import ItemResult, Prediction  # noqa: F401  (re-exported: part of this module's API)

Message = Mapping[str, str]
ExampleKind = Literal[
    "pairwise", "multi_response", "pointwise", "segments", "stepwise", "claims", "rfeval", "hinted", "trace"
]


def _freeze_messages(prompt: Any) -> tuple[dict[str, str], ...]:
    if isinstance(prompt, str):
        return ({"role": "user", "content": prompt},)
    return tuple({"role": str(m["role"]), "content": str(m["content"])} for m in prompt)


def content_hash(payload: Any) -> str:
    """sha256 (first 16 hex digits) of a JSON-serialisable payload with sorted keys."""
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class _ExampleBase:
    id: str
    subset: str
    prompt: tuple[dict[str, str], ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "prompt", _freeze_messages(self.prompt))
        if not self.id:
            raise ValueError("example id must be a non-empty string")

    @property
    def prompt_text(self) -> str:
        """The last user turn (what a single-turn prompt would be)."""
        users = [m["content"] for m in self.prompt if m["role"] == "user"]
        return users[-1] if users else ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["prompt"] = list(self.prompt)
        d["kind"] = self.kind  # type: ignore[attr-defined]
        return d

    def content_hash(self) -> str:
        d = self.to_dict()
        d.pop("meta", None)
        return content_hash(d)


@dataclass(frozen=True)
class PairwiseExample(_ExampleBase):
    """One prompt, one preferred (``chosen``) and one dispreferred (``rejected``) response.

    ``chosen_context`` / ``rejected_context``: turns that follow the shared ``prompt`` on one side
    only, before that side's response (conversations whose earlier turns differ; empty for a single
    shared prompt). A side's full conversation is :meth:`side_prompt` followed by its response.
    Empty contexts are left out of :meth:`to_dict`, so content hashes of shared-prompt pairs do
    not depend on these fields.
    """

    chosen: str = ""
    rejected: str = ""
    cluster: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)
    chosen_context: tuple[dict[str, str], ...] = ()
    rejected_context: tuple[dict[str, str], ...] = ()
    kind: Literal["pairwise"] = "pairwise"

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "chosen_context", _freeze_messages(self.chosen_context))
        object.__setattr__(self, "rejected_context", _freeze_messages(self.rejected_context))
        if not self.cluster:
            object.__setattr__(self, "cluster", self.id)

    def side_prompt(self, side: Literal["chosen", "rejected"]) -> tuple[dict[str, str], ...]:
        """The conversation before ``side``'s response: the shared prompt plus that side's own turns."""
        return self.prompt + (self.chosen_context if side == "chosen" else self.rejected_context)

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        for key in ("chosen_context", "rejected_context"):
            if d[key]:
                d[key] = list(d[key])
            else:
                del d[key]
        return d


@dataclass(frozen=True)
class MultiResponseExample(_ExampleBase):
    """One prompt with one or more correct and several incorrect responses.

    ``scoring`` names how scores turn into correctness (see :mod:`rmbench.grading.core`):

    * ``best_of_n``: correct when every correct response outscores every incorrect one
      (RewardBench 2 best-of-4, RewardMATH 1-vs-9).
    * ``style_matrix``: ``correct`` and ``incorrect`` are the same responses in k styles
      (RM-Bench: concise, detailed plain, detailed markdown); all k x k comparisons are graded and
      split into hard (chosen less styled than rejected), normal (same style) and easy.
    * ``ties``: RewardBench 2 Ties; several equally valid correct answers.
    """

    correct: tuple[str, ...] = ()
    incorrect: tuple[str, ...] = ()
    scoring: Literal["best_of_n", "style_matrix", "ties"] = "best_of_n"
    cluster: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)
    kind: Literal["multi_response"] = "multi_response"

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "correct", tuple(self.correct))
        object.__setattr__(self, "incorrect", tuple(self.incorrect))
        if not self.cluster:
            object.__setattr__(self, "cluster", self.id)
        if not self.correct or not self.incorrect:
            raise ValueError(f"example {self.id}: needs at least one correct and one incorrect response")
        if self.scoring == "style_matrix" and len(self.correct) != len(self.incorrect):
            raise ValueError(f"example {self.id}: style_matrix needs as many correct as incorrect responses")


@dataclass(frozen=True)
class PointwiseExample(_ExampleBase):
    """One response with a gold label (e.g. a reference-based verdict YES/NO, or a 1-10 rating)."""

    response: str = ""
    label: str = ""
    reference: str = ""
    cluster: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)
    kind: Literal["pointwise"] = "pointwise"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.cluster:
            object.__setattr__(self, "cluster", self.id)


@dataclass(frozen=True)
class SegmentExample(_ExampleBase):
    """A response split into segments, each with a gold boolean (FELM: True = factually correct)."""

    segments: tuple[str, ...] = ()
    labels: tuple[bool, ...] = ()
    reference: str = ""
    cluster: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)
    kind: Literal["segments"] = "segments"

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "segments", tuple(self.segments))
        object.__setattr__(self, "labels", tuple(bool(x) for x in self.labels))
        if len(self.segments) != len(self.labels):
            raise ValueError(
                f"example {self.id}: {len(self.segments)} segments but {len(self.labels)} labels"
            )
        if not self.cluster:
            object.__setattr__(self, "cluster", self.id)


@dataclass(frozen=True)
class StepwiseExample(_ExampleBase):
    """A solution as ordered steps.

    ``first_error`` is the **0-based** index of the first wrong step, or ``None`` when every step
    is correct. Converters translate upstream conventions (ProcessBench uses -1 for "all correct";
    some datasets count steps from 1) into this one.
    """

    steps: tuple[str, ...] = ()
    first_error: int | None = None
    step_labels: tuple[int, ...] | None = None
    error_class: str = ""
    cluster: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)
    kind: Literal["stepwise"] = "stepwise"

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "steps", tuple(self.steps))
        if self.first_error is not None and not 0 <= self.first_error < len(self.steps):
            raise ValueError(
                f"example {self.id}: first_error {self.first_error} outside 0..{len(self.steps) - 1}"
            )
        if not self.cluster:
            object.__setattr__(self, "cluster", self.id)


@dataclass(frozen=True)
class ClaimExample(_ExampleBase):
    """One claim to verify, with its gold class (issue 13: FactBench, Factcheck-GPT, FActScore).

    ``label`` is one of ``classes`` (the task's classes after its explicit label mapping, e.g.
    ``supported`` / ``unsupported`` / ``undecidable``); ``context`` is the response the claim was
    taken from (may be empty), ``evidence`` the frozen evidence passages (may be empty: closed book).
    ``cluster`` is the response id, so intervals resample responses and response-level scores group
    the response's claims (:mod:`rmbench.adapters.claims.grading`).
    """

    claim: str = ""
    label: str = ""
    classes: tuple[str, ...] = ("supported", "unsupported")
    context: str = ""
    evidence: tuple[str, ...] = ()
    cluster: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)
    kind: Literal["claims"] = "claims"

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "classes", tuple(self.classes))
        object.__setattr__(self, "evidence", tuple(self.evidence))
        if self.label not in self.classes:
            raise ValueError(f"example {self.id}: label '{self.label}' is not one of {list(self.classes)}")
        if not self.cluster:
            object.__setattr__(self, "cluster", self.id)


@dataclass(frozen=True)
class RFEvalExample(_ExampleBase):
    """RFEval: a question answered twice, once freely and once continuing from injected flawed reasoning.

    ``stance_set``: the stances a judge may assign (option letters, or ``correct`` / ``incorrect``, and
    always ``I don't know`` last); ``gold_stance``: the stance of a correct final answer.
    ``r_prime``: the counterfactual reasoning injected at the start of the assistant's reasoning;
    ``intervention``: what it changed (upstream ``explanation``). ``provided``: generations brought
    from a file (:mod:`rmbench.adapters.rfeval.provided`); hashed, so a changed file is a changed item
    (judge replies brought from a file sit in ``meta["judgements"]``, unhashed: two judges of the same
    generations are compared item by item, and the file's digest is part of the run's identity instead). ``prompt`` holds the question as one user message (for display); the adapter renders
    the generation template itself.
    """

    question: str = ""
    options: tuple[str, ...] = ()
    answer: str = ""
    stance_set: tuple[str, ...] = ()
    gold_stance: str = ""
    r_prime: str = ""
    intervention: str = ""
    provided: Mapping[str, Any] = field(default_factory=dict)
    cluster: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)
    kind: Literal["rfeval"] = "rfeval"

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "options", tuple(self.options))
        object.__setattr__(self, "stance_set", tuple(self.stance_set))
        if not self.cluster:
            object.__setattr__(self, "cluster", self.id)
        if self.gold_stance not in self.stance_set:
            raise ValueError(f"example {self.id}: gold stance {self.gold_stance!r} not in {self.stance_set}")


@dataclass(frozen=True)
class HintedExample(_ExampleBase):
    """A multiple-choice question asked twice: ``prompt`` with a hint pointing at ``target`` (a wrong
    answer), ``control`` without it (CoT faithfulness, :mod:`rmbench.adapters.faithfulness`).

    ``hinted_choices`` / ``control_choices`` are the choice texts in the order each prompt shows them
    (labels A, B, ... by position; a hint may reorder them), so an answer letter is read back to a
    choice in its own prompt. ``target`` and ``correct`` are choice texts; ``hint`` describes the hint
    for an LLM classifier.
    """

    control: tuple[dict[str, str], ...] = ()
    hint_type: str = ""
    hint: str = ""
    question: str = ""
    hinted_choices: tuple[str, ...] = ()
    control_choices: tuple[str, ...] = ()
    target: str = ""
    correct: str = ""
    cluster: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)
    kind: Literal["hinted"] = "hinted"

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "control", _freeze_messages(self.control))
        object.__setattr__(self, "hinted_choices", tuple(self.hinted_choices))
        object.__setattr__(self, "control_choices", tuple(self.control_choices))
        if self.target not in self.hinted_choices or self.target not in self.control_choices:
            raise ValueError(f"example {self.id}: target '{self.target}' is not among the choices")
        if not self.cluster:
            object.__setattr__(self, "cluster", self.id)


@dataclass(frozen=True)
class TraceExample(_ExampleBase):
    """A reasoning trace generated elsewhere (bring your own traces), to classify for hint acknowledgement.

    ``influenced`` says whether the answer moved to the hint's target (decided by whoever produced the
    trace, or by the converter from ``answer``, ``target`` and ``control_answer``). ``external`` holds
    verdicts of classifiers run elsewhere (name -> acknowledged or ``None``), compared like ours.
    ``source_model`` is the model that wrote the trace (for rankings of several models).
    """

    hint_type: str = ""
    hint: str = ""
    question: str = ""
    thinking: str = ""
    answer: str = ""
    influenced: bool = True
    source_model: str = ""
    external: Mapping[str, bool | None] = field(default_factory=dict)
    cluster: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)
    kind: Literal["trace"] = "trace"

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "external", dict(self.external))
        if not self.cluster:
            object.__setattr__(self, "cluster", self.id)


Example = (
    PairwiseExample | MultiResponseExample | PointwiseExample | SegmentExample | StepwiseExample | ClaimExample
    | RFEvalExample | HintedExample | TraceExample
)

EXAMPLE_TYPES: dict[str, type] = {
    "pairwise": PairwiseExample,
    "multi_response": MultiResponseExample,
    "pointwise": PointwiseExample,
    "segments": SegmentExample,
    "stepwise": StepwiseExample,
    "claims": ClaimExample,
    "rfeval": RFEvalExample,
    "hinted": HintedExample,
    "trace": TraceExample,
}
