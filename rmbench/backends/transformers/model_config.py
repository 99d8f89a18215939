"""The settings of one local Hugging Face model (:class:`ModelConfig`) and the backend's running totals
(:class:`BackendStats`); :mod:`rmbench.backends.transformers.backend` uses and re-exports both."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from rmbench.backends.transformers.device import DTYPES
from rmbench.errors import UserError


@dataclass(frozen=True)
class ModelConfig:
    """How to load and run one model. Lengths and budgets are in tokens.

    ``model`` is a local folder or a Hub id; ``revision`` a Hub branch, tag or commit.
    ``dtype="auto"`` means float32 on CPU and the checkpoint's half-precision dtype (else float32)
    on an accelerator; float16 on CPU is refused. ``device="auto"`` means CUDA when available,
    else CPU. ``max_length=None`` takes the model's own limit; a larger one is refused unless
    ``force_max_length`` (:mod:`rmbench.backends.transformers.model_limits`). ``allow_random_head`` lets a sequence
    classifier whose head the checkpoint lacks run anyway (tests, speed). ``threads``: torch CPU
    threads, None for the rule of :mod:`rmbench.backends.threads`. ``label_index`` picks the logit of a
    classifier with 2+ labels (negative counts from the end; default: the last label).
    ``batch_cost`` is the fixed cost of one forward call in token-equivalents, used when packing
    (see :func:`rmbench.backends.batching.pack_by_budget`); ``prefix_sharing`` enables the grouped
    methods' shared-prefix path where the model supports it. ``token_budget_auto`` probes the largest
    budget that fits when a head loads, starting at ``token_budget``
    (:mod:`rmbench.backends.transformers.auto_budget`), and keeps it for the session.
    """

    model: str
    revision: str | None = None
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    device: str = "auto"
    max_length: int | None = None
    truncation_side: Literal["left", "right"] = "left"
    token_budget: int = 16384
    max_batch_size: int = 64
    trust_remote_code: bool = False
    label_index: int = -1
    prefix_sharing: bool = True
    batch_cost: int = 32
    force_max_length: bool = False
    allow_random_head: bool = False
    threads: int | None = None
    token_budget_auto: bool = False

    def __post_init__(self) -> None:
        if self.dtype not in ("auto", *DTYPES):
            raise UserError(f"unknown dtype '{self.dtype}'", hint="use auto, float32, bfloat16 or float16")
        if self.truncation_side not in ("left", "right"):
            raise UserError(f"unknown truncation side '{self.truncation_side}'", hint="use left or right")
        for name in ("token_budget", "max_batch_size"):
            if getattr(self, name) < 1:
                raise UserError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.max_length is not None and self.max_length < 2:
            raise UserError(f"max_length must be at least 2 tokens, got {self.max_length}")


@dataclass
class BackendStats:
    """Running totals since the backend was built. ``tokens`` counts real tokens forwarded (a shared
    prefix once), ``padded_tokens`` the batch cells including padding and a cached prefix's positions."""

    sequences: int = 0
    tokens: int = 0
    padded_tokens: int = 0
    forward_calls: int = 0
    truncated_sequences: int = 0
    truncated_tokens: int = 0
    oom_retries: int = 0
    forward_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
