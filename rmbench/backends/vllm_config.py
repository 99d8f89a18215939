"""What a vLLM backend is configured with (:class:`VLLMConfig`) and counts (:class:`VLLMStats`).

Plain data, no ``vllm`` import: :mod:`rmbench.backends.vllm_backend` re-exports both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rmbench.errors import UserError


@dataclass(frozen=True)
class VLLMConfig:
    """How to load and run one model with vLLM. Lengths are in tokens.

    ``max_model_len=None`` takes the model's own limit. Sequences given to :meth:`VLLMBackend.token_logprobs`
    and :meth:`VLLMBackend.sequence_scores` that are longer are truncated on ``truncation_side`` (as
    the transformers backend does); generation prompts are never truncated: one that leaves no room
    for ``max_new_tokens`` becomes an error generation. ``label_index`` picks the logit of a
    classifier with 2+ labels (negative counts from the end). ``seed`` seeds the engine; a request's
    own ``seed`` seeds its sampling. ``kv_cache_gib=None`` keeps an existing ``VLLM_CPU_KVCACHE_SPACE``
    or sets 1.
    """

    model: str
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    max_model_len: int | None = None
    truncation_side: Literal["left", "right"] = "left"
    label_index: int = -1
    seed: int = 0
    kv_cache_gib: int | None = None
    enable_prefix_caching: bool = True
    trust_remote_code: bool = False

    def __post_init__(self) -> None:
        if self.dtype not in ("auto", "float32", "bfloat16", "float16"):
            raise UserError(f"unknown dtype '{self.dtype}'", hint="use auto, float32, bfloat16 or float16")
        if self.truncation_side not in ("left", "right"):
            raise UserError(f"unknown truncation side '{self.truncation_side}'", hint="use left or right")
        if self.max_model_len is not None and self.max_model_len < 2:
            raise UserError(f"max_model_len must be at least 2 tokens, got {self.max_model_len}")
        if self.kv_cache_gib is not None and self.kv_cache_gib < 1:
            raise UserError(f"kv_cache_gib must be at least 1, got {self.kv_cache_gib}")


@dataclass
class VLLMStats:
    """Running totals: requests per method, truncations, refused prompts, engine starts and seconds."""

    generations: int = 0
    logprob_sequences: int = 0
    scored_sequences: int = 0
    truncated_sequences: int = 0
    prompts_too_long: int = 0
    engine_starts: int = 0
    engine_start_seconds: float = 0.0
    run_seconds: float = 0.0
