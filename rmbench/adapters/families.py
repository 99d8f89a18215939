"""Adapter factories for the task families' model kinds (claim verification, RFEval, CoT faithfulness),
listed in :data:`rmbench.adapters.kinds.ADAPTERS` like the core kinds of :mod:`rmbench.adapters.assemble`.

Each builds the engine the (kind, backend) pair names and hands it to the family's own builder.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from rmbench.adapters.assemble import AdapterOptions, openai_backend, transformers_backend, vllm_backend
from rmbench.backends import require

if TYPE_CHECKING:
    from rmbench.adapters import Adapter


def generation_engine(o: AdapterOptions, model: str | None = None) -> Any:
    """The backend ``o.backend`` serving ``model`` (default ``o.model``) for generation."""
    opts = o if model is None else replace(o, model=model)
    if o.backend == "transformers":
        engine = transformers_backend(opts)
    elif o.backend == "vllm":
        engine = vllm_backend(opts)
    else:
        engine = openai_backend(opts)
    require(engine, "generation", needed_by=f"--kind {o.kind}")
    return engine


def claim_judge(o: AdapterOptions) -> Adapter:
    """A generative judge says whether each claim is supported (:mod:`rmbench.adapters.claims.judge`)."""
    from rmbench.adapters.claims.config import ClaimSettings
    from rmbench.adapters.claims.judge import ClaimJudgeAdapter

    return ClaimJudgeAdapter(generation_engine(o), o.claims or ClaimSettings(), model_id=o.model)


def nli(o: AdapterOptions) -> Adapter:
    """An NLI sequence classifier verifies each claim (:mod:`rmbench.adapters.claims.nli`)."""
    from rmbench.adapters.claims.config import ClaimSettings
    from rmbench.adapters.claims.nli import NLIAdapter

    return NLIAdapter(transformers_backend(o), o.claims or ClaimSettings(), model_id=o.model)


def rfeval(o: AdapterOptions) -> Adapter:
    from rmbench.adapters.rfeval.adapter import RFEvalAdapter, RFEvalSettings
    from rmbench.backends.model_source import parse_model

    judge = o.judge_model
    own_judge = judge is None or parse_model(judge) == parse_model(o.model)
    return RFEvalAdapter(
        lambda: generation_engine(o), None if own_judge else lambda: generation_engine(o, str(judge)),
        o.rfeval or RFEvalSettings(seed=o.seed), model_id=o.model, judge_id=judge or o.model,
    )


def faithfulness(o: AdapterOptions) -> Adapter:
    from rmbench.adapters.faithfulness.settings import build_faithfulness_adapter

    return build_faithfulness_adapter(o.model, o.faithfulness, lambda name: generation_engine(o, name))
