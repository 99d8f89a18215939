"""Run options -> settings of the step-level evaluators (process reward models and critics).

The runner calls :func:`process_adapter_options` (``--kind process``) or :func:`critic_adapter_options`
(``--kind critic``) with the option group (:class:`~rmbench.config.ProcessOptions`,
:class:`~rmbench.config.CriticOptions`) before building the adapter; they return the keyword arguments
``build_adapter`` passes on: ``process`` (:class:`~rmbench.adapters.steps.process.ProcessSettings`) and
``threshold`` (:class:`~rmbench.adapters.steps.thresholds.ThresholdPolicy`, tuned here when asked, with the
refusal to tune on the evaluated split), or ``critic`` (:class:`~rmbench.adapters.steps.critic.CriticSettings`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rmbench.config import CriticOptions, ProcessOptions
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


def process_settings_dict(process: ProcessOptions) -> dict[str, Any]:
    """The run-identity part of the process options (what a resumed run must match)."""
    return {
        "step_separator": process.step_separator, "step_tokens": process.step_tokens, "prm_head": process.head,
        "prm_format": process.format, "aggregation": process.aggregation, "threshold": process.threshold,
        "threshold_from": str(process.threshold_from) if process.threshold_from else None,
        "threshold_split": process.threshold_split,
    }


def critic_settings_dict(critic: CriticOptions) -> dict[str, Any]:
    """The run-identity part of the critic options."""
    return {
        "critic_prompt": critic.prompt, "critic_samples": critic.samples,
        "critic_temperature": critic.temperature, "critic_max_new_tokens": critic.max_new_tokens,
    }


def process_adapter_options(
    process: ProcessOptions, task_name: str, examples: Sequence[Example], run_settings: Mapping[str, Any]
) -> dict[str, Any]:
    """Keyword arguments for ``build_adapter`` when the kind is ``process`` (see the module docstring).

    ``run_settings`` are the run's evaluator settings (compared with a development run's before tuning).
    """
    from rmbench.adapters.steps.process import ProcessSettings, parse_step_tokens
    from rmbench.adapters.steps.thresholds import DEFAULT_THRESHOLD, fixed_threshold, tune_from_run

    settings = ProcessSettings(
        step_separator=process.step_separator, step_tokens=parse_step_tokens(process.step_tokens),
        head=process.head, aggregation=process.aggregation, format=process.format,
    )
    if process.threshold_from is not None:
        if process.threshold is not None:
            raise UserError("give either --threshold or --threshold-from, not both")
        threshold = tune_from_run(Path(process.threshold_from), split=process.threshold_split, evaluated=examples,
                                  task_name=task_name, settings=run_settings)
    else:
        if process.threshold_split is not None:
            raise UserError("--threshold-split names a split of --threshold-from RUN_DIR; give the run directory too")
        threshold = fixed_threshold(DEFAULT_THRESHOLD if process.threshold is None else process.threshold)
    return {"process": settings, "threshold": threshold}


def critic_adapter_options(critic: CriticOptions, seed: int) -> dict[str, Any]:
    """Keyword arguments for ``build_adapter`` when the kind is ``critic``."""
    from rmbench.adapters.steps.critic import CriticSettings

    return {"critic": CriticSettings(
        prompt=critic.prompt, samples=critic.samples, temperature=critic.temperature, seed=seed,
        max_new_tokens=critic.max_new_tokens,
    )}


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
