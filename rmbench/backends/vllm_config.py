"""What a vLLM backend is configured with (:class:`VLLMConfig`) and counts (:class:`VLLMStats`).

Plain data, no ``vllm`` import: :mod:`rmbench.backends.vllm_backend` re-exports both.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from rmbench.errors import UserError

ExecutorBackend = Literal["auto", "uni", "mp", "ray"]


@dataclass(frozen=True)
class VLLMParallel:
    """How vLLM spreads one model over devices (``rmbench run --tensor-parallel-size`` ...).

    The sizes are vLLM's own; ``gpu_memory_utilization=None`` keeps vLLM's default (0.9).
    ``distributed_executor_backend="auto"`` is ``"uni"`` (one worker in this process, what the CPU
    build needs) when every size is 1, and vLLM's own choice (``mp`` on one machine, ``ray`` across
    machines) otherwise. ``data_parallel_size`` above 1 is refused: vLLM's offline ``LLM`` raises for
    it ("not supported for single-process usage"); run one shard per replica instead (docs/backends.md).
    """

    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    data_parallel_size: int = 1
    gpu_memory_utilization: float | None = None
    distributed_executor_backend: ExecutorBackend = "auto"

    def __post_init__(self) -> None:
        check_parallel(self)

    @property
    def single_worker(self) -> bool:
        return self.tensor_parallel_size == self.pipeline_parallel_size == self.data_parallel_size == 1

    def executor(self) -> str | None:
        """The ``distributed_executor_backend`` given to vLLM (None: vLLM chooses)."""
        if self.distributed_executor_backend != "auto":
            return self.distributed_executor_backend
        return "uni" if self.single_worker else None

    def engine_kwargs(self) -> dict[str, Any]:
        """The keywords of ``vllm.LLM`` these settings decide."""
        out: dict[str, Any] = {
            "tensor_parallel_size": self.tensor_parallel_size,
            "pipeline_parallel_size": self.pipeline_parallel_size,
        }
        if self.gpu_memory_utilization is not None:
            out["gpu_memory_utilization"] = self.gpu_memory_utilization
        executor = self.executor()
        if executor is not None:
            out["distributed_executor_backend"] = executor
        return out

    def describe(self) -> dict[str, Any]:
        """The settings as given, plus the executor vLLM was handed (recorded in run.json)."""
        return {**asdict(self), "executor_used": self.executor() or "vllm-default"}


def check_parallel(p: VLLMParallel) -> None:
    """:class:`UserError` naming the flag of the first value vLLM cannot take."""
    for name in ("tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size"):
        value = getattr(p, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UserError(f"--{name.replace('_', '-')} {value!r}: must be a whole number of at least 1")
    if p.data_parallel_size > 1:
        raise UserError(
            f"--data-parallel-size {p.data_parallel_size}: vLLM's offline engine does not run data parallel "
            "in one process",
            hint="run one shard per model replica (--shard i/n, each with its own CUDA_VISIBLE_DEVICES) and "
            "merge them: see 'vLLM on several GPUs' in docs/backends.md",
        )
    u = p.gpu_memory_utilization
    if u is not None and (isinstance(u, bool) or not isinstance(u, (int, float)) or not math.isfinite(u)
                          or not 0 < u <= 1):
        raise UserError(f"--gpu-memory-utilization {u!r}: must be a fraction in (0, 1], e.g. 0.9")
    if p.distributed_executor_backend not in ("auto", "uni", "mp", "ray"):
        raise UserError(f"--distributed-executor-backend '{p.distributed_executor_backend}': "
                        "expected one of auto, uni, mp, ray")
    if p.distributed_executor_backend == "uni" and not p.single_worker:
        raise UserError("--distributed-executor-backend uni runs one worker: it needs every parallel size to be 1")


@dataclass(frozen=True)
class VLLMConfig:
    """How to load and run one model with vLLM. Lengths are in tokens.

    ``max_model_len=None`` takes the model's own limit. Sequences given to :meth:`VLLMBackend.token_logprobs`
    and :meth:`VLLMBackend.sequence_scores` that are longer are truncated on ``truncation_side`` (as
    the transformers backend does); generation prompts are never truncated: one that leaves no room
    for ``max_new_tokens`` becomes an error generation. ``label_index`` picks the logit of a
    classifier with 2+ labels (negative counts from the end). ``seed`` seeds the engine; a request's
    own ``seed`` seeds its sampling. ``kv_cache_gib=None`` keeps an existing ``VLLM_CPU_KVCACHE_SPACE``
    or sets 1. ``parallel``: tensor/pipeline parallel sizes, memory share, executor (:class:`VLLMParallel`).
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
    parallel: VLLMParallel = field(default_factory=VLLMParallel)

    def __post_init__(self) -> None:
        if self.dtype not in ("auto", "float32", "bfloat16", "float16"):
            raise UserError(f"unknown dtype '{self.dtype}'", hint="use auto, float32, bfloat16 or float16")
        if self.truncation_side not in ("left", "right"):
            raise UserError(f"unknown truncation side '{self.truncation_side}'", hint="use left or right")
        if self.max_model_len is not None and self.max_model_len < 2:
            raise UserError(f"max_model_len must be at least 2 tokens, got {self.max_model_len}")
        if self.kv_cache_gib is not None and self.kv_cache_gib < 1:
            raise UserError(f"kv_cache_gib must be at least 1, got {self.kv_cache_gib}")


def engine_kwargs(config: VLLMConfig, runner: str, dtype: str, max_logprobs: int) -> dict[str, Any]:
    """The keywords ``vllm.LLM`` is built with for ``runner`` (``generate`` or ``pooling``), before the
    pooling overrides :mod:`rmbench.backends.vllm_positions` adds. Prefix caching (requests sharing a
    prompt prefix compute it once: a judged pair's two orders, FELM's segments of one answer) is set
    for generation engines."""
    kwargs: dict[str, Any] = {
        "model": config.model,
        "runner": runner,
        "dtype": dtype,
        "seed": config.seed,
        "enforce_eager": True,
        "trust_remote_code": config.trust_remote_code,
        **config.parallel.engine_kwargs(),
    }
    if config.max_model_len is not None:
        kwargs["max_model_len"] = config.max_model_len
    if runner == "generate":
        kwargs["enable_prefix_caching"] = config.enable_prefix_caching
        kwargs["max_logprobs"] = max_logprobs
    return kwargs


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
