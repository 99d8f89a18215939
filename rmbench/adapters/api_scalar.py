"""Scalar reward models behind vLLM's OpenAI-compatible server (``--kind scalar --backend openai``).

The same rendering and score layout as :class:`rmbench.adapters.scalar.ScalarAdapter` (the server
receives the token ids transformers would score: see :mod:`rmbench.backends.openai_scores`). The one
difference: a request the server kept failing makes its item an *error item* (``Prediction.error``,
see :mod:`rmbench.results.item_errors`), never a score, so the run goes on and a resume asks again.
"""

from __future__ import annotations

from collections.abc import Sequence

from rmbench.adapters.chat import ChatRenderer
from rmbench.adapters.responses import conversations_of, score_layout
from rmbench.adapters.scalar import ScalarAdapter, token_counts
from rmbench.backends.openai_backend import Failed, OpenAIBackend
from rmbench.data.text_limits import TextLimit
from rmbench.datatypes import Example, Prediction


class ApiScalarAdapter(ScalarAdapter):
    """:class:`ScalarAdapter` on an :class:`OpenAIBackend`; failed requests become error items."""

    def __init__(self, backend: OpenAIBackend) -> None:
        self.backend = backend  # type: ignore[assignment]
        limit = TextLimit(backend.max_length, backend.options.truncation_side)
        self.chat = ChatRenderer(backend.tokenizer, limit)

    def score(self, examples: Sequence[Example]) -> list[Prediction]:
        groups = [[self.chat.scoring_ids(p, r) for p, r in conversations_of(ex, "scalar")] for ex in examples]
        api: OpenAIBackend = self.backend  # type: ignore[assignment]
        out = []
        for ex, seqs, result in zip(examples, groups, api.sequence_score_results(groups), strict=True):
            tokens, truncated = token_counts(seqs, api.max_length)
            extra = {"truncated": truncated} if truncated else {}
            if isinstance(result, Failed):
                out.append(Prediction(scores={}, tokens=tokens, extra=extra, error=result.error))
            else:
                out.append(Prediction(scores=score_layout(ex, result), tokens=tokens, extra=extra))
        return out
