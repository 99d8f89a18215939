"""Rewards from a causal LM's token log-probabilities of the response, under the chat template.

* :class:`LikelihoodAdapter`: score = sum (or mean) of ``log p(response token | everything before)``
  in nats. Sum favours short responses; mean is length-normalised.
* :class:`ImplicitRewardAdapter`: the DPO implicit reward
  ``beta * (sum log p_policy(response) - sum log p_reference(response))`` (Rafailov et al. 2023,
  "Direct Preference Optimization", eq. 5, without the prompt-only partition term, which cancels
  within a pair).

Response tokens are those of :meth:`ChatRenderer.likelihood_span`: the response text only, not the
template's end-of-turn tokens. A response with no tokens left to score (empty, or truncated away)
gets ``nan`` and the prediction is marked invalid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

from rmbench.adapters.chat import ChatRenderer, Span
from rmbench.adapters.responses import conversations_of, score_layout
from rmbench.adapters.scalar import token_counts
from rmbench.backends import LogprobBackend
from rmbench.data.text_limits import text_limit_of
from rmbench.datatypes import Example, Prediction
from rmbench.errors import UserError


def _spans(chat: ChatRenderer, examples: Sequence[Example], adapter: str) -> list[list[Span]]:
    return [[chat.likelihood_span(p, r) for p, r in conversations_of(ex, adapter)] for ex in examples]


def _logprobs(backend: LogprobBackend, spans: list[list[Span]]) -> list[list[list[float]]]:
    groups = [[s.ids for s in g] for g in spans]
    starts = [[max(s.start, 1) for s in g] for g in spans]
    return backend.token_logprobs_grouped(groups, starts)


def _prediction(ex: Example, spans: list[Span], values: list[float], max_length: int, n: list[int]) -> Prediction:
    tokens, truncated = token_counts([s.ids for s in spans], max_length)
    extra: dict[str, Any] = {"response_tokens": n}
    if truncated:
        extra["truncated"] = truncated
    invalid = any(math.isnan(v) for v in values)
    if invalid:
        extra["invalid_reason"] = "a response has no tokens to score (empty or truncated away)"
    return Prediction(scores=score_layout(ex, values), tokens=tokens, invalid=invalid, extra=extra)


class LikelihoodAdapter:
    """Score = ``sum`` or ``mean`` of the response's token log-probabilities (nats)."""

    kind = "likelihood"

    def __init__(self, backend: LogprobBackend, reduction: Literal["sum", "mean"] = "sum") -> None:
        if reduction not in ("sum", "mean"):
            raise UserError(f"unknown reduction '{reduction}'", hint="use sum or mean")
        self.backend = backend
        self.reduction = reduction
        self.chat = ChatRenderer(backend.tokenizer, text_limit_of(backend))

    def describe(self) -> dict[str, Any]:
        self.backend.prepare("token_logprobs")
        return {"kind": self.kind, "reduction": self.reduction, **self.backend.describe(), "chat": self.chat.describe()}

    def score(self, examples: Sequence[Example]) -> list[Prediction]:
        spans = _spans(self.chat, examples, "likelihood")
        out = []
        for ex, sp, lps in zip(examples, spans, _logprobs(self.backend, spans), strict=True):
            values = [self._reduce(lp) for lp in lps]
            out.append(_prediction(ex, sp, values, self.backend.max_length, [len(lp) for lp in lps]))
        return out

    def _reduce(self, logprobs: list[float]) -> float:
        if not logprobs:
            return math.nan
        total = math.fsum(logprobs)
        return total if self.reduction == "sum" else total / len(logprobs)


class ImplicitRewardAdapter:
    """DPO implicit reward ``beta * (log p_policy - log p_reference)`` summed over response tokens.

    Both models must share a tokenizer (same vocabulary): the sequences are rendered once with the
    policy's chat template. Passing the same backend twice computes the log-probs once (reward 0).
    """

    kind = "implicit"

    def __init__(self, policy_backend: LogprobBackend, reference_backend: LogprobBackend, beta: float = 1.0) -> None:
        shared = policy_backend is reference_backend
        if not shared and policy_backend.tokenizer.get_vocab() != reference_backend.tokenizer.get_vocab():
            raise UserError(
                "the policy and reference models have different vocabularies; the implicit reward "
                "needs both to score the same token ids",
                hint="use the reference (SFT) model the policy was trained from",
            )
        if not math.isfinite(beta) or beta <= 0:
            raise UserError(f"beta must be a positive number, got {beta}")
        self.policy, self.reference, self.beta = policy_backend, reference_backend, float(beta)
        longer = max((policy_backend, reference_backend), key=lambda b: getattr(b, "max_length", 0))
        self.chat = ChatRenderer(policy_backend.tokenizer, text_limit_of(longer))

    def describe(self) -> dict[str, Any]:
        self.policy.prepare("token_logprobs")
        self.reference.prepare("token_logprobs")
        return {
            "kind": self.kind,
            "beta": self.beta,
            **self.policy.describe(),
            "reference": self.reference.describe(),
            "chat": self.chat.describe(),
        }

    def score(self, examples: Sequence[Example]) -> list[Prediction]:
        spans = _spans(self.chat, examples, "implicit reward")
        policy = _logprobs(self.policy, spans)
        reference = policy if self.reference is self.policy else _logprobs(self.reference, spans)
        out = []
        for ex, sp, pol, ref in zip(examples, spans, policy, reference, strict=True):
            values = [
                self.beta * (math.fsum(p) - math.fsum(r)) if p and len(p) == len(r) else math.nan
                for p, r in zip(pol, ref, strict=True)
            ]
            out.append(_prediction(ex, sp, values, self.policy.max_length, [len(p) for p in pol]))
        return out
