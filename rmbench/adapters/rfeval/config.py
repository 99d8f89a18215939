"""Run options -> RFEval settings (``--kind rfeval``), so the runner stays kind-agnostic.

* :func:`rfeval_settings_dict`: the options that identify a run (a resumed run must match them);
* :func:`rfeval_adapter_options`: the keyword arguments ``build_adapter`` passes on.

Options used: ``--judge-model`` (default: the model under test judges its own outputs), ``--backend``
(both models), ``--max-new-tokens`` (each generation and each judge reply; default 1024),
``--unparseable wrong|half|exclude|retry:N`` and ``--unfinished skip|judge``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rmbench.errors import UserError

if TYPE_CHECKING:
    from rmbench.config import RunConfig


def _settings(cfg: RunConfig) -> Any:
    from rmbench.adapters.judge.adapter import parse_unparseable
    from rmbench.adapters.rfeval.adapter import RFEvalSettings

    _, retries = parse_unparseable(cfg.judge.unparseable) if cfg.judge.unparseable else (None, 0)
    tokens = cfg.judge.max_new_tokens or 1024
    return RFEvalSettings(max_new_tokens=tokens, judge_max_new_tokens=tokens, retries=retries,
                          unfinished=cfg.judge.unfinished, seed=cfg.policy.seed)


def rfeval_settings_dict(cfg: RunConfig) -> dict[str, Any]:
    """The run-identity part of the RFEval options."""
    from dataclasses import asdict

    return {"judge_model": cfg.judge.judge_model or cfg.model, "backend": cfg.engine.backend,
            "unparseable": cfg.judge.unparseable or cfg.policy.invalid_policy, **asdict(_settings(cfg))}


def rfeval_adapter_options(cfg: RunConfig) -> dict[str, Any]:
    """Keyword arguments for ``build_adapter`` (nothing unless ``cfg.kind == "rfeval"``)."""
    if cfg.kind != "rfeval":
        if cfg.judge.judge_model:
            raise UserError("--judge-model is used with --kind rfeval only")
        return {}
    return {"rfeval": _settings(cfg), "judge_model": cfg.judge.judge_model}  # the engine: --backend, as every kind
