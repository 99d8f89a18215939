"""Model kind x backend: ONE table of the pairs that run, each mapped to its adapter factory.

A kind says what it needs from a backend (:data:`KIND_NEEDS`, a :data:`~rmbench.backends.Capability`);
a pair is listed in :data:`ADAPTERS` only when that backend offers it and an adapter is written for
it. Any other pair is refused before a model loads, with the list of pairs that work and, where
known, why this one does not (:data:`NOT_OFFERED`): a kind never runs on another backend than the
one asked for. Factories are lazy ``"module:function"`` strings, so this module imports nothing heavy.
``baseline`` runs no model and takes no backend.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rmbench.errors import UserError

if TYPE_CHECKING:
    from rmbench.adapters import Adapter
    from rmbench.adapters.assemble import AdapterOptions
    from rmbench.backends import Capability

BACKENDS = ("transformers", "vllm", "openai")

KIND_NEEDS: dict[str, Capability] = {
    "scalar": "sequence_scores",
    "likelihood": "token_logprobs",
    "implicit": "token_logprobs",
    "process": "position_scores",
    "critic": "generation",
    "judge": "generation",
    "claim-judge": "generation",
    "nli": "sequence_scores",
    "rfeval": "generation",
    "faithfulness": "generation",
}

_A = "rmbench.adapters.assemble:"
_F = "rmbench.adapters.families:"  # the task families' kinds: claims, RFEval, CoT faithfulness
ADAPTERS: dict[tuple[str, str], str] = {
    ("scalar", "transformers"): _A + "transformers_scalar",
    ("scalar", "vllm"): _A + "vllm_scalar",
    ("scalar", "openai"): _A + "openai_scalar",
    ("likelihood", "transformers"): _A + "transformers_likelihood",
    ("likelihood", "vllm"): _A + "vllm_likelihood",
    ("implicit", "transformers"): _A + "transformers_implicit",
    ("process", "transformers"): _A + "transformers_process",
    ("process", "vllm"): _A + "vllm_process",
    ("critic", "transformers"): _A + "transformers_critic",
    ("critic", "vllm"): _A + "vllm_critic",
    ("critic", "openai"): _A + "openai_critic",
    ("judge", "transformers"): _A + "transformers_judge",
    ("judge", "vllm"): _A + "vllm_judge",
    ("judge", "openai"): _A + "openai_judge",
    ("claim-judge", "transformers"): _F + "claim_judge",
    ("claim-judge", "vllm"): _F + "claim_judge",
    ("claim-judge", "openai"): _F + "claim_judge",
    ("nli", "transformers"): _F + "nli",
    ("rfeval", "transformers"): _F + "rfeval",
    ("rfeval", "vllm"): _F + "rfeval",
    ("faithfulness", "transformers"): _F + "faithfulness",
    ("faithfulness", "vllm"): _F + "faithfulness",
    ("faithfulness", "openai"): _F + "faithfulness",
}
"""(kind, backend) -> factory ``f(AdapterOptions) -> Adapter``."""

NOT_OFFERED: dict[tuple[str, str], str] = {
    ("implicit", "vllm"): "the policy and the reference model would need two vLLM engines in one process",
    ("likelihood", "openai"): "chat servers give no log-probabilities of given tokens",
    ("implicit", "openai"): "chat servers give no log-probabilities of given tokens",
    ("process", "openai"): "chat servers give no logits at chosen token positions",
    ("nli", "vllm"): "the NLI verifier reads every label's probability, which the vLLM backend does not return",
    ("nli", "openai"): "chat servers run no sequence classifiers",
    ("rfeval", "openai"): "chat servers cannot continue inside the assistant turn from the injected reasoning",
}


def supported_pairs() -> list[str]:
    """``kind/backend`` for every pair in the table, in table order."""
    return [f"{kind}/{backend}" for kind, backend in ADAPTERS]


def adapter_factory(kind: str, backend: str) -> Callable[[AdapterOptions], Adapter]:
    """The factory for ``(kind, backend)``; :class:`UserError` (exit 2) naming the pairs that work."""
    if backend not in BACKENDS:
        raise UserError(f"unknown backend '{backend}'", hint=f"use one of: {', '.join(BACKENDS)}")
    target = ADAPTERS.get((kind, backend))
    if target is None:
        why = NOT_OFFERED.get((kind, backend))
        others = [b for k, b in ADAPTERS if k == kind]
        raise UserError(
            f"--kind {kind} does not run on --backend {backend}"
            + (f": {why}" if why else "")
            + (f" (it runs on: {', '.join(others)})" if others else ""),
            hint=f"supported kind/backend pairs: {', '.join(supported_pairs())}",
        )
    module, _, name = target.partition(":")
    factory: Any = getattr(importlib.import_module(module), name)
    return factory  # type: ignore[no-any-return]
