"""Judge options (:class:`~rmbench.config.JudgeOptions`) -> generative-judge settings (``--kind judge``).

The runner asks this module three things, so its own code stays kind-agnostic:

* :func:`judge_settings_dict`: the judge options that identify a run (a resumed run must match
  them; they also name the default run directory). The prompt is identified by its sha256, so an
  edited template file is a different evaluator.
* :func:`effective_invalid_policy`: ``--unparseable wrong|half|exclude`` *is* the invalid policy for
  judges; ``retry:N`` re-asks first and then applies ``--invalid-policy``.
* :func:`judge_adapter_options`: the keyword arguments ``build_adapter`` passes on (a
  :class:`~rmbench.adapters.judge.adapter.JudgeSettings` and the backend choice; the runner adds the
  engine's ``api_base`` and ``max_consecutive_errors`` for every kind).

The option values were checked when the groups were built (:mod:`rmbench.config`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rmbench.config import EngineOptions, JudgeOptions, PolicyOptions
from rmbench.datatypes import Example


def effective_invalid_policy(judge: JudgeOptions, policy: PolicyOptions) -> str:
    """The invalid policy grading applies to a judge's items (see the module docstring)."""
    if not judge.unparseable:
        return policy.invalid_policy
    from rmbench.adapters.judge.adapter import parse_unparseable

    unparseable_policy, _ = parse_unparseable(judge.unparseable)
    return unparseable_policy or policy.invalid_policy


def judge_settings_dict(judge: JudgeOptions, engine: EngineOptions, policy: PolicyOptions) -> dict[str, Any]:
    """The run-identity part of the judge options."""
    from rmbench.adapters.judge.prompts import load_prompt

    prompt_sha = load_prompt(judge.prompt).sha256 if judge.prompt else None
    return {
        "backend": engine.backend, "judge_mode": judge.mode, "swap": judge.swap, "prompt": judge.prompt,
        "prompt_sha256": prompt_sha, "parser": judge.parser, "unparseable": judge.unparseable or policy.invalid_policy,
        "inconsistent_policy": policy.inconsistent_policy, "max_new_tokens": judge.max_new_tokens,
    }  # fmt: skip


def judge_adapter_options(
    judge: JudgeOptions, engine: EngineOptions, policy: PolicyOptions, examples: Sequence[Example]
) -> dict[str, Any]:
    """Keyword arguments for ``build_adapter`` when the kind is ``judge``.

    The modes the ``examples`` will use are resolved here, so a mode that does not fit the task
    fails before the model loads and the summary names exactly the templates used.
    """
    from rmbench.adapters.judge.adapter import JudgeSettings, parse_unparseable
    from rmbench.adapters.judge.modes import mode_for

    _, retries = parse_unparseable(judge.unparseable) if judge.unparseable else (None, 0)
    settings = JudgeSettings(
        mode=judge.mode, swap=judge.swap, prompt=judge.prompt, parser=judge.parser, retries=retries,
        max_new_tokens=judge.max_new_tokens, seed=policy.seed,
        modes=tuple(dict.fromkeys(mode_for(judge.mode, e) for e in examples)),
    )
    return {"judge": settings, "judge_backend": engine.backend}
