"""Which responses of an example a response-scoring adapter scores, and how scores are laid out.

Shared by the scalar, likelihood, implicit-reward and baseline adapters. Order is fixed:
pairwise -> ``[chosen, rejected]``; multi_response -> ``[*correct, *incorrect]``. The layout is the
one :class:`rmbench.datatypes.Prediction` documents: ``{"chosen": s, "rejected": s}`` or
``{"correct": [...], "incorrect": [...]}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rmbench.datatypes import Example, Message, MultiResponseExample, PairwiseExample
from rmbench.errors import UserError

SCORED_KINDS = ("pairwise", "multi_response")


def responses_of(example: Example, adapter: str) -> list[str]:
    """The responses to score, in layout order; refuses other example kinds naming ``adapter``."""
    if isinstance(example, PairwiseExample):
        return [example.chosen, example.rejected]
    if isinstance(example, MultiResponseExample):
        return [*example.correct, *example.incorrect]
    raise UserError(
        f"the {adapter} adapter scores responses of pairwise and multi_response examples; "
        f"item '{example.id}' is {example.kind}",
        hint="use a judge or process adapter for this task",
    )


def conversations_of(example: Example, adapter: str) -> list[tuple[Sequence[Message], str]]:
    """(conversation before the response, response) in :func:`responses_of` order.

    A pairwise side with its own earlier turns (``chosen_context`` / ``rejected_context``) is scored
    after them; every other response follows the shared ``prompt``.
    """
    if isinstance(example, PairwiseExample):
        return [(example.side_prompt("chosen"), example.chosen), (example.side_prompt("rejected"), example.rejected)]
    return [(example.prompt, r) for r in responses_of(example, adapter)]


def response_labels(example: Example) -> list[tuple[str, int]]:
    """(field, index) naming each response of :func:`responses_of`, e.g. ``("incorrect", 2)``."""
    if isinstance(example, PairwiseExample):
        return [("chosen", 0), ("rejected", 0)]
    assert isinstance(example, MultiResponseExample)
    return [("correct", i) for i in range(len(example.correct))] + [
        ("incorrect", i) for i in range(len(example.incorrect))
    ]


def score_layout(example: Example, values: Sequence[float]) -> dict[str, Any]:
    """Put one value per response (in :func:`responses_of` order) into the Prediction score layout."""
    if isinstance(example, PairwiseExample):
        return {"chosen": values[0], "rejected": values[1]}
    assert isinstance(example, MultiResponseExample)
    k = len(example.correct)
    return {"correct": list(values[:k]), "incorrect": list(values[k:])}
