"""Check every :class:`rmbench.runner.RunConfig` option when the config is built: before any data is read
or model loaded, so a typo costs a second, not a run (and never leaves a run that cannot resume).

Only the options with a closed set of values or a range are checked here; names (task, model,
prompt template) are checked where they are resolved.
"""

from __future__ import annotations

import math
from typing import Any

from rmbench.errors import UserError

KINDS = ("auto", "scalar", "likelihood", "implicit", "baseline", "process", "critic", "judge", "precomputed",
         "claim-judge", "nli", "rfeval", "faithfulness")  # claim verifiers (issue 13), RFEval (14), CoT faithfulness (15)
_CHOICES: dict[str, tuple[str, ...]] = {
    "kind": KINDS,
    "invalid_policy": ("wrong", "half", "exclude"),
    "inconsistent_policy": ("half", "wrong"),
    "truncation_side": ("left", "right"),
    "reduction": ("sum", "mean"),
    "swap": ("both", "random", "none"),
    "backend": ("transformers", "vllm", "openai"),
    "unfinished": ("skip", "judge"),
}
_OPTIONAL_CHOICES: dict[str, tuple[str, ...]] = {"tie_policy": ("wrong", "half", "exclude")}
# option -> smallest allowed value (None values mean "default" and are allowed for the optional ones)
_AT_LEAST: dict[str, int] = {
    "n_bootstrap": 1, "seed": 0, "token_budget": 1, "max_batch_size": 1,
    "critic_samples": 1, "critic_max_new_tokens": 1, "max_consecutive_errors": 0,
}
# None: the default (max_length: the model's own limit; threads: rmbench.backends.threads)
_OPTIONAL_AT_LEAST: dict[str, int] = {"limit": 1, "chunk_size": 1, "max_new_tokens": 1, "max_length": 1, "threads": 1}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(f"{_flag(name)} {value!r}: expected a whole number")
    if value < low:
        raise UserError(f"{_flag(name)} {value}: must be at least {low}")


def validate_run_config(cfg: Any) -> None:
    """Raise :class:`UserError` naming the first invalid option of ``cfg`` (a ``RunConfig``)."""
    if not cfg.task:
        raise UserError("--task: empty task name")
    if not cfg.model:
        raise UserError("--model: empty model name")
    for name, allowed in _CHOICES.items():
        if getattr(cfg, name) not in allowed:
            raise UserError(f"{_flag(name)} '{getattr(cfg, name)}': expected one of {', '.join(allowed)}")
    for name, allowed in _OPTIONAL_CHOICES.items():
        value = getattr(cfg, name)
        if value is not None and value not in allowed:
            raise UserError(f"{_flag(name)} '{value}': expected one of {', '.join(allowed)}")
    for name, low in _AT_LEAST.items():
        _check_int(name, getattr(cfg, name), low)
    for name, low in _OPTIONAL_AT_LEAST.items():
        if getattr(cfg, name) is not None:
            _check_int(name, getattr(cfg, name), low)
    if isinstance(cfg.confidence, bool) or not isinstance(cfg.confidence, (int, float)) or not 0 < cfg.confidence < 1:
        raise UserError(f"--confidence {cfg.confidence!r}: must be between 0 and 1 (e.g. 0.95)")
    if not isinstance(cfg.critic_temperature, (int, float)) or not cfg.critic_temperature >= 0:
        raise UserError(f"--critic-temperature {cfg.critic_temperature!r}: must be 0 or more")
    if cfg.threshold is not None and not (isinstance(cfg.threshold, (int, float)) and math.isfinite(cfg.threshold)):
        raise UserError(f"--threshold {cfg.threshold!r}: must be a finite number")
