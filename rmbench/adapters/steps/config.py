"""Run options -> settings of the step-level evaluators (process reward models and critics).

The runner calls :func:`step_adapter_options` before building the adapter; it returns the keyword
arguments ``build_adapter`` passes on: ``process`` (:class:`~rmbench.adapters.steps.process.ProcessSettings`)
and ``threshold`` (:class:`~rmbench.adapters.steps.thresholds.ThresholdPolicy`, tuned here when asked, with the
refusal to tune on the evaluated split) for ``--kind process``; ``critic``
(:class:`~rmbench.adapters.steps.critic.CriticSettings`) for ``--kind critic``; nothing for other kinds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rmbench.datatypes import Example
from rmbench.errors import UserError

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}


def unescape(text: str) -> str:
    r"""(For the command line, which passes separators typed by users.) Turn the escapes ``\n``, ``\t``, ``\r`` and ``\\`` typed on a command line into characters.

    >>> unescape(r"\n\n"), unescape(" ки"), unescape(r"a\\n")
    ('\n\n', ' ки', 'a\\n')
    """
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in _ESCAPES:
            out.append(_ESCAPES[text[i + 1]])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def process_settings_dict(cfg: Any) -> dict[str, Any]:
    """The run-identity part of the process options (what a resumed run must match)."""
    return {
        "step_separator": cfg.step_separator, "step_tokens": cfg.step_tokens, "prm_head": cfg.prm_head,
        "prm_format": cfg.prm_format, "aggregation": cfg.aggregation, "threshold": cfg.threshold,
        "threshold_from": str(cfg.threshold_from) if cfg.threshold_from else None,
        "threshold_split": cfg.threshold_split,
    }


def critic_settings_dict(cfg: Any) -> dict[str, Any]:
    """The run-identity part of the critic options."""
    return {
        "critic_prompt": cfg.critic_prompt, "critic_samples": cfg.critic_samples,
        "critic_temperature": cfg.critic_temperature, "critic_max_new_tokens": cfg.critic_max_new_tokens,
    }


def step_adapter_options(
    cfg: Any, task_name: str, examples: Sequence[Example], settings: Mapping[str, Any]
) -> dict[str, Any]:
    """Keyword arguments for ``build_adapter`` for ``cfg.kind`` (see the module docstring).

    ``settings`` are the run's evaluator settings (compared with a development run's before tuning).
    """
    if cfg.kind == "process":
        from rmbench.adapters.steps.process import ProcessSettings, parse_step_tokens
        from rmbench.adapters.steps.thresholds import DEFAULT_THRESHOLD, fixed_threshold, tune_from_run

        process = ProcessSettings(
            step_separator=cfg.step_separator, step_tokens=parse_step_tokens(cfg.step_tokens),
            head=cfg.prm_head, aggregation=cfg.aggregation, format=cfg.prm_format,
        )
        if cfg.threshold_from is not None:
            if cfg.threshold is not None:
                raise UserError("give either --threshold or --threshold-from, not both")
            threshold = tune_from_run(Path(cfg.threshold_from), split=cfg.threshold_split, evaluated=examples,
                                      task_name=task_name, settings=settings)
        else:
            if cfg.threshold_split is not None:
                raise UserError("--threshold-split names a split of --threshold-from RUN_DIR; give the run directory too")
            threshold = fixed_threshold(DEFAULT_THRESHOLD if cfg.threshold is None else cfg.threshold)
        return {"process": process, "threshold": threshold}
    if cfg.kind == "critic":
        from rmbench.adapters.steps.critic import CriticSettings

        return {"critic": CriticSettings(
            prompt=cfg.critic_prompt, samples=cfg.critic_samples, temperature=cfg.critic_temperature,
            seed=cfg.seed, max_new_tokens=cfg.critic_max_new_tokens,
        )}
    return {}


def build_step_adapter(backend: Any, kind: str, *, model_id: str, process: Any = None, threshold: Any = None,
                       critic: Any = None) -> Any:
    """The adapter for ``--kind process`` or ``--kind critic`` over an already built backend
    (what :func:`rmbench.adapters.build.build_adapter` calls for these kinds)."""
    if kind == "process":
        from rmbench.adapters.steps.process import build_process_adapter

        return build_process_adapter(backend, process, threshold, model_id=model_id)
    if kind == "critic":
        from rmbench.adapters.steps.critic import build_critic_adapter

        return build_critic_adapter(backend, critic, model_id=model_id)
    raise ValueError(f"not a step-level kind: {kind!r}")
