"""What became of one example: the adapter's :class:`Prediction` and the graded :class:`ItemResult`.

    Example (rmbench.datatypes) -> adapter -> Prediction -> grading -> ItemResult -> items.jsonl

Frozen records like the examples in :mod:`rmbench.datatypes` (which re-exports both names).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ItemResult:
    """What one example produced: the line written to ``items.jsonl``.

    ``metrics`` holds per-item values that the summary aggregates (mean over items, clustered by
    ``cluster``), e.g. ``{"accuracy": 1.0}`` or RM-Bench's ``{"accuracy": .., "hard": .., ...}``.
    A metric is ``None`` when it does not apply to this item; it is then left out of that
    metric's denominator and counted separately.
    ``scores`` keeps the raw model outputs (scores, verdict text, probabilities) so statistics can
    be recomputed without rerunning the model. ``baselines`` holds the same metrics for cheap
    reference scorers (response length) computed on the same item. ``identity`` is the hash of the
    run configuration that produced the line (:mod:`rmbench.results.identity`; empty on lines written
    before rmbench recorded it): a resumed run reuses only lines of its own identity.
    """

    id: str
    subset: str
    cluster: str
    example_hash: str
    metrics: Mapping[str, float | None]
    scores: Mapping[str, Any]
    ties: int = 0
    invalid: int = 0
    baselines: Mapping[str, Mapping[str, float | None]] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    identity: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if not self.identity:
            d.pop("identity")
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ItemResult:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass(frozen=True)
class Prediction:
    """What an adapter returns for one example, before grading.

    ``scores`` layout by example kind (the grader relies on it):

    * pairwise: ``{"chosen": float, "rejected": float}``
    * multi_response: ``{"correct": [float, ...], "incorrect": [float, ...]}`` in the example's order
    * judges and step-level adapters add their own keys (verdicts, raw text, step scores); they are
      documented in their adapter module.

    ``invalid`` marks an item the model could not score (e.g. an unparseable verdict); grading applies
    the run's explicit policy to it. ``tokens`` counts the tokens the model processed for this item.
    ``error`` is set when the backend failed (a server kept answering 503): the item is then stored
    as an error, not graded, and asked again on resume (:mod:`rmbench.results.item_errors`).
    """

    scores: Mapping[str, Any]
    tokens: int = 0
    invalid: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
