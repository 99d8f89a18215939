"""Scalar reward models: one number per (conversation, response), higher is better.

Each response is rendered with the model's chat template (:class:`rmbench.adapters.chat.ChatRenderer`)
and scored by a sequence classifier. The responses of one example share their prompt tokens, so they
go to the backend as one group and the prompt is computed once when the backend shares prefixes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rmbench.adapters.chat import ChatRenderer
from rmbench.adapters.responses import conversations_of, score_layout
from rmbench.backends import ScoringBackend
from rmbench.data.text_limits import text_limit_of
from rmbench.datatypes import Example, Prediction


def token_counts(seqs: Sequence[Sequence[int]], max_length: int) -> tuple[int, int]:
    """(tokens after truncation, number of sequences truncated) for one example's sequences."""
    return sum(min(len(s), max_length) for s in seqs), sum(len(s) > max_length for s in seqs)


class ScalarAdapter:
    """Pairwise -> ``{"chosen": s, "rejected": s}``; multi_response -> ``{"correct": [...], "incorrect": [...]}``.

    ``Prediction.tokens`` counts each response's full input (after truncation), even when a shared
    prompt was computed once; ``extra["truncated"]`` says how many of the item's sequences were cut.
    """

    kind = "scalar"

    def __init__(self, backend: ScoringBackend) -> None:
        self.backend = backend
        self.chat = ChatRenderer(backend.tokenizer, text_limit_of(backend))

    def describe(self) -> dict[str, Any]:
        self.backend.prepare("sequence_scores")
        return {"kind": self.kind, **self.backend.describe(), "chat": self.chat.describe()}

    def score(self, examples: Sequence[Example]) -> list[Prediction]:
        groups = [[self.chat.scoring_ids(p, r) for p, r in conversations_of(ex, "scalar")] for ex in examples]
        values = self.backend.sequence_scores_grouped(groups)
        out = []
        for ex, seqs, vals in zip(examples, groups, values, strict=True):
            tokens, truncated = token_counts(seqs, self.backend.max_length)
            extra = {"truncated": truncated} if truncated else {}
            out.append(Prediction(scores=score_layout(ex, vals), tokens=tokens, extra=extra))
        return out
