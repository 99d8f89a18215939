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
    """The run-identity part of the RFEval options, with the judgements file's digest when the task
    brings one (:func:`judgements_digest`)."""
    from dataclasses import asdict

    out = {"judge_model": cfg.judge.judge_model or cfg.model, "backend": cfg.engine.backend,
           "unparseable": cfg.judge.unparseable or cfg.policy.invalid_policy, **asdict(_settings(cfg))}
    digest = judgements_digest(cfg)
    return {**out, "judgements": digest} if digest else out


def judgements_digest(cfg: RunConfig) -> str | None:
    """sha256 (16 hex digits) of the ``judgements`` file the task's options name, or None without one.

    Judge replies brought from a file are the *judge*, not the example: they are kept out of the
    examples' content hash (so two judges' runs over the same generations pair item by item in
    ``rmbench agree``) and identify the run here instead (so a resume refuses a changed file).
    A file that does not exist has no digest; the converter refuses it when the examples are read.
    """
    import hashlib
    from pathlib import Path

    from rmbench.data.task import load_task

    task = load_task(cfg.data.task, cfg.data.tasks_dirs, cfg.data.overrides or None)
    path = task.spec.options.get("judgements")
    file = Path(str(path)).expanduser() if path else None
    return hashlib.sha256(file.read_bytes()).hexdigest()[:16] if file and file.is_file() else None


def rfeval_adapter_options(cfg: RunConfig) -> dict[str, Any]:
    """Keyword arguments for ``build_adapter`` (nothing unless ``cfg.kind == "rfeval"``)."""
    if cfg.kind != "rfeval":
        if cfg.judge.judge_model:
            raise UserError("--judge-model is used with --kind rfeval only")
        return {}
    return {"rfeval": _settings(cfg), "judge_model": cfg.judge.judge_model}  # the engine: --backend, as every kind
