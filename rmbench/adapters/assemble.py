"""The adapter factories of :data:`rmbench.adapters.kinds.ADAPTERS`: one function per (kind, backend).

Each builds its backend from :class:`AdapterOptions` (what ``build_adapter`` was given), checks the
backend declares the capability the kind needs (:func:`rmbench.backends.require`) and wraps it in
the kind's adapter. Engines are imported inside the functions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rmbench.backends import require
from rmbench.errors import UserError

if TYPE_CHECKING:
    from rmbench.adapters import Adapter


@dataclass(frozen=True)
class AdapterOptions:
    """Everything :func:`rmbench.adapters.build.build_adapter` passes on (see its docstring)."""

    model: str
    kind: str
    backend: str = "transformers"
    ref_model: str | None = None
    dtype: str = "auto"
    device: str = "auto"
    max_length: int | None = None
    truncation_side: str = "left"
    token_budget: int = 16384
    token_budget_auto: bool = False  # probe the largest budget that fits, starting at token_budget
    max_batch_size: int = 64
    seed: int = 0
    reduction: str = "sum"
    beta: float = 1.0
    prefix_sharing: bool = True
    process: Any = None
    threshold: Any = None
    critic: Any = None
    judge: Any = None
    api_base: str | None = None
    max_consecutive_errors: int = 5
    force_max_length: bool = False
    allow_random_head: bool = False
    threads: int | None = None
    claims: Any = None  # claim verifiers (rmbench.adapters.claims)
    rfeval: Any = None  # RFEval settings (rmbench.adapters.rfeval)
    judge_model: str | None = None  # RFEval: a separate judge model (None: the model judges itself)
    faithfulness: Any = None  # CoT faithfulness settings (rmbench.adapters.faithfulness)
    vllm_parallel: Any = None  # rmbench.backends.vllm_config.VLLMParallel (None: one worker)


# ----------------------------------------------------------------------------------- backends
def transformers_backend(o: AdapterOptions, model: str | None = None) -> Any:
    from rmbench.backends.model_source import parse_model
    from rmbench.backends.transformers.backend import ModelConfig, TransformersBackend

    source, revision = parse_model(model or o.model)
    return TransformersBackend(
        ModelConfig(
            model=source, revision=revision, dtype=o.dtype, device=o.device,  # type: ignore[arg-type]
            max_length=o.max_length, truncation_side=o.truncation_side,  # type: ignore[arg-type]
            token_budget=o.token_budget, max_batch_size=o.max_batch_size, prefix_sharing=o.prefix_sharing,
            force_max_length=o.force_max_length, allow_random_head=o.allow_random_head, threads=o.threads,
            token_budget_auto=o.token_budget_auto,
        )
    )


def vllm_backend(o: AdapterOptions) -> Any:
    """A vLLM engine on a local model (vLLM chooses its own device and batches itself)."""
    from rmbench.backends.model_source import parse_model
    from rmbench.backends.vllm_backend import VLLMBackend, VLLMConfig

    source, revision = parse_model(o.model)
    if revision is not None:
        raise UserError("the vLLM backend does not take a Hub revision", hint="pass a local folder")
    if o.device != "auto":
        raise UserError(f"--device {o.device} does not apply to --backend vllm (vLLM places the model itself)")
    from rmbench.backends.vllm_config import VLLMParallel

    return VLLMBackend(VLLMConfig(model=source, dtype=o.dtype, max_model_len=o.max_length,  # type: ignore[arg-type]
                                  truncation_side=o.truncation_side, seed=o.seed,  # type: ignore[arg-type]
                                  parallel=o.vllm_parallel or VLLMParallel()))


def openai_backend(o: AdapterOptions) -> Any:
    """An OpenAI-compatible server serving ``model`` by name."""
    from rmbench.backends.openai_backend import OpenAIBackend, OpenAIOptions

    base = o.api_base or os.environ.get("OPENAI_BASE_URL")
    if not base:
        raise UserError("--backend openai needs the server URL", hint="pass --api-base http://HOST:PORT/v1")
    return OpenAIBackend(
        OpenAIOptions(base_url=base, model=o.model, retry_seed=o.seed, max_consecutive_failures=o.max_consecutive_errors,
                      truncation_side=o.truncation_side)  # type: ignore[arg-type]
    )


# ----------------------------------------------------------------------------------- adapters
def _scalar(backend: Any) -> Adapter:
    from rmbench.adapters.scalar import ScalarAdapter

    require(backend, "sequence_scores", needed_by="--kind scalar")
    backend.prepare("sequence_scores")  # the engine that knows the length limit and tokenizer
    return ScalarAdapter(backend)


def _likelihood(backend: Any, o: AdapterOptions) -> Adapter:
    from rmbench.adapters.likelihood import LikelihoodAdapter

    require(backend, "token_logprobs", needed_by="--kind likelihood")
    backend.prepare("token_logprobs")
    return LikelihoodAdapter(backend, reduction=o.reduction)  # type: ignore[arg-type]


def _process(scorer: Any, o: AdapterOptions) -> Adapter:
    from rmbench.adapters.steps.config import build_step_adapter

    return build_step_adapter(scorer, "process", model_id=o.model, process=o.process, threshold=o.threshold)


def _critic(backend: Any, o: AdapterOptions) -> Adapter:
    from rmbench.adapters.steps.config import build_step_adapter

    return build_step_adapter(backend, "critic", model_id=o.model, critic=o.critic)


def _judge(backend: Any, o: AdapterOptions) -> Adapter:
    from rmbench.adapters.judge.adapter import JudgeAdapter, JudgeSettings

    require(backend, "generation", needed_by="--kind judge")
    return JudgeAdapter(backend, o.judge or JudgeSettings(seed=o.seed), model_id=o.model)


def transformers_scalar(o: AdapterOptions) -> Adapter:
    return _scalar(transformers_backend(o))


def vllm_scalar(o: AdapterOptions) -> Adapter:
    return _scalar(vllm_backend(o))


def openai_scalar(o: AdapterOptions) -> Adapter:
    """A reward model served by vLLM's server (``/classify``); the tokenizer is loaded from ``--model``."""
    from rmbench.adapters.api_scalar import ApiScalarAdapter

    backend = openai_backend(o)
    require(backend, "sequence_scores", needed_by="--kind scalar")
    backend.prepare("sequence_scores")  # asks the server for the model's length limit
    return ApiScalarAdapter(backend)


def transformers_likelihood(o: AdapterOptions) -> Adapter:
    return _likelihood(transformers_backend(o), o)


def vllm_likelihood(o: AdapterOptions) -> Adapter:
    return _likelihood(vllm_backend(o), o)


def transformers_implicit(o: AdapterOptions) -> Adapter:
    from rmbench.adapters.likelihood import ImplicitRewardAdapter
    from rmbench.backends.model_source import parse_model

    if o.ref_model is None:
        raise UserError("--kind implicit needs --ref-model (the reference model the policy was trained from)")
    policy = transformers_backend(o)
    same = parse_model(o.ref_model) == parse_model(o.model)
    return ImplicitRewardAdapter(policy, policy if same else transformers_backend(o, o.ref_model), beta=o.beta)


def transformers_process(o: AdapterOptions) -> Adapter:
    from rmbench.backends.transformers.positions import PositionScorer

    return _process(PositionScorer(transformers_backend(o)), o)


def vllm_process(o: AdapterOptions) -> Adapter:
    return _process(vllm_backend(o), o)


def transformers_critic(o: AdapterOptions) -> Adapter:
    return _critic(transformers_backend(o), o)


def vllm_critic(o: AdapterOptions) -> Adapter:
    return _critic(vllm_backend(o), o)


def openai_critic(o: AdapterOptions) -> Adapter:
    return _critic(openai_backend(o), o)


def transformers_judge(o: AdapterOptions) -> Adapter:
    return _judge(transformers_backend(o), o)


def vllm_judge(o: AdapterOptions) -> Adapter:
    return _judge(vllm_backend(o), o)


def openai_judge(o: AdapterOptions) -> Adapter:
    return _judge(openai_backend(o), o)
