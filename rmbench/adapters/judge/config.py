"""Run options -> generative-judge settings (``--kind judge``).

The runner asks this module three things, so its own code stays kind-agnostic:

* :func:`judge_settings_dict`: the judge options that identify a run (a resumed run must match
  them; they also name the default run directory). The prompt is identified by its sha256, so an
  edited template file is a different evaluator.
* :func:`effective_invalid_policy`: ``--unparseable wrong|half|exclude`` *is* the invalid policy for
  judges; ``retry:N`` re-asks first and then applies ``--invalid-policy``.
* :func:`judge_adapter_options`: the keyword arguments ``build_adapter`` passes on (a
  :class:`~rmbench.adapters.judge.adapter.JudgeSettings` and the backend choice).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rmbench.adapters.build import JUDGE_BACKENDS
from rmbench.datatypes import Example
from rmbench.errors import UserError
from rmbench.grading.policies import INCONSISTENT_POLICIES


def _check(cfg: Any) -> None:
    if cfg.backend not in JUDGE_BACKENDS:
        raise UserError(f"--backend '{cfg.backend}': expected one of {', '.join(JUDGE_BACKENDS)}")
    if cfg.inconsistent_policy not in INCONSISTENT_POLICIES:
        raise UserError(f"--inconsistent-policy '{cfg.inconsistent_policy}': expected half or wrong")


def effective_invalid_policy(cfg: Any) -> str:
    """The invalid policy grading applies (see the module docstring)."""
    if cfg.kind != "judge" or not cfg.unparseable:
        return str(cfg.invalid_policy)
    from rmbench.adapters.judge.adapter import parse_unparseable

    policy, _ = parse_unparseable(cfg.unparseable)
    return policy or str(cfg.invalid_policy)


def judge_settings_dict(cfg: Any) -> dict[str, Any]:
    """The run-identity part of the judge options."""
    from rmbench.adapters.judge.prompts import load_prompt

    _check(cfg)
    prompt_sha = load_prompt(cfg.prompt).sha256 if cfg.prompt else None
    return {
        "backend": cfg.backend, "judge_mode": cfg.judge_mode, "swap": cfg.swap, "prompt": cfg.prompt,
        "prompt_sha256": prompt_sha, "parser": cfg.parser, "unparseable": cfg.unparseable or cfg.invalid_policy,
        "inconsistent_policy": cfg.inconsistent_policy, "max_new_tokens": cfg.max_new_tokens,
    }  # fmt: skip


def judge_adapter_options(cfg: Any, examples: Sequence[Example]) -> dict[str, Any]:
    """Keyword arguments for ``build_adapter`` (nothing unless ``cfg.kind == "judge"``).

    The modes the ``examples`` will use are resolved here, so a mode that does not fit the task
    fails before the model loads and the summary names exactly the templates used.
    """
    if cfg.kind != "judge":
        return {}
    from rmbench.adapters.judge.adapter import JudgeSettings, parse_unparseable
    from rmbench.adapters.judge.modes import mode_for

    _check(cfg)
    _, retries = parse_unparseable(cfg.unparseable) if cfg.unparseable else (None, 0)
    settings = JudgeSettings(
        mode=cfg.judge_mode, swap=cfg.swap, prompt=cfg.prompt, parser=cfg.parser, retries=retries,
        max_new_tokens=cfg.max_new_tokens, seed=cfg.seed,
        modes=tuple(dict.fromkeys(mode_for(cfg.judge_mode, e) for e in examples)),
    )
    return {
        "judge": settings, "judge_backend": cfg.backend, "api_base": cfg.api_base,
        "max_consecutive_errors": cfg.max_consecutive_errors,
    }  # fmt: skip
