"""Reference scorers that need no model: response length and a seeded coin.

They read the same examples as real adapters and return the same :class:`Prediction` layout, so
every run can report how far a model is above "longer is better" and above chance. No torch here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from rmbench.adapters.responses import response_labels, responses_of, score_layout
from rmbench.datatypes import Example, Prediction
from rmbench.stats.seeds import derived_uniform


class LengthBaseline:
    """Score = response length in characters (Python ``len``: Unicode code points).

    It predicts that the **longer response is better**; equal lengths tie, and grading's tie policy
    applies. A reward model that barely beats it may be rewarding verbosity.
    """

    kind = "baseline"

    def __init__(self, unit: Literal["chars"] = "chars") -> None:
        if unit != "chars":
            raise ValueError(f"unknown length unit {unit!r} (only 'chars')")
        self.unit = unit

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "model": "baseline:length", "unit": self.unit, "rule": "longer is better"}

    def score(self, examples: Sequence[Example]) -> list[Prediction]:
        return [
            Prediction(scores=score_layout(ex, [float(len(r)) for r in responses_of(ex, "length baseline")]))
            for ex in examples
        ]


class RandomBaseline:
    """Score = :func:`~rmbench.stats.seeds.derived_uniform` of (seed, item id, field, index) of each response, the
    same for the same response whatever the order, batching or resume of a run: chance level (50% on pairs, 25% on best-of-4)."""

    kind = "baseline"

    def __init__(self, seed: int = 0) -> None:
        self.seed = int(seed)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "model": "baseline:random",
            "seed": self.seed,
            "rule": "sha256(seed, item id, response field, index) -> uniform [0, 1)",
        }

    def score(self, examples: Sequence[Example]) -> list[Prediction]:
        out = []
        for ex in examples:
            responses_of(ex, "random baseline")  # refuses example kinds without responses
            values = [derived_uniform(self.seed, ex.id, f, i) for f, i in response_labels(ex)]
            out.append(Prediction(scores=score_layout(ex, values)))
        return out
