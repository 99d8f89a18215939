"""The threshold policy of a process reward model: fixed, or tuned on a named development split.

A PRM gives each step a probability of being correct; a *threshold* turns that into a prediction
(the first step scored below it is the predicted first error). The policy is explicit and recorded
in the run summary (``model.process.threshold``):

* ``fixed``: a value given by the user (``--threshold 0.5``, the default).
* ``tuned``: the value that maximises ProcessBench F1 on the items of an *earlier run* of the same
  evaluator on a development split (``--threshold-from RUN_DIR [--threshold-split gsm8k]``).
  Tuning reads only that run's ``items.jsonl`` (step scores and gold first errors), so it needs no
  model and is reproducible; the record names the run directory, its task and split(s), the number
  of items, the sha256 of its ``items.jsonl`` and ``summary.json``, and the tuned value. The same
  value is then applied unchanged to every item of the new run.

Tuning on the evaluated split is refused: the run stops when any evaluated item also appears in the
development items (same content hash), or when the development split has the same task and subset
name as an evaluated subset. Threshold-free metrics (step AUROC, arg-min localisation) are reported
alongside, so PRMs can also be compared without choosing a threshold.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rmbench.adapters.steps.metrics import tune_threshold
from rmbench.datatypes import Example, ItemResult
from rmbench.errors import UserError

DEFAULT_THRESHOLD = 0.5
"""The fixed threshold when none is given (a step scored below it is predicted to be an error)."""

SCORING_KEYS = ("model", "kind", "dtype", "max_length", "step_separator", "step_tokens", "prm_head", "prm_format")
"""Settings of a development run that must match the evaluated run for its scores to be comparable."""


@dataclass(frozen=True)
class ThresholdPolicy:
    """A threshold and where it came from (``record`` is written to the run summary)."""

    value: float
    policy: Literal["fixed", "tuned"]
    record: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not math.isfinite(self.value):
            raise UserError(f"the threshold must be a finite number, got {self.value}")

    def describe(self) -> dict[str, Any]:
        return {"policy": self.policy, "value": self.value, **dict(self.record)}


def fixed_threshold(value: float) -> ThresholdPolicy:
    """A user-given threshold (step score ``< value`` marks an error)."""
    return ThresholdPolicy(float(value), "fixed", {"note": "given by the user, not tuned"})


def _sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else None


def _check_same_scorer(dev_config: Mapping[str, Any], settings: Mapping[str, Any], run_dir: Path) -> None:
    diffs = [k for k in SCORING_KEYS if k in settings and dev_config.get(k) != settings.get(k)]
    if diffs:
        shown = ", ".join(f"{k}: {dev_config.get(k)!r} there, {settings.get(k)!r} here" for k in diffs)
        raise UserError(
            f"{run_dir} was scored with other settings ({shown})",
            hint="tune the threshold on a run of the same model with the same step settings",
        )


def _check_not_evaluated(
    dev_items: Sequence[ItemResult], dev_task: str, evaluated: Sequence[Example], task_name: str, run_dir: Path,
) -> None:
    dev_hashes = {it.example_hash for it in dev_items}
    shared = [e.id for e in evaluated if e.content_hash() in dev_hashes]
    if shared:
        raise UserError(
            f"refusing to tune the threshold on the evaluated split: {len(shared)} evaluated item(s) "
            f"(e.g. '{shared[0]}') are among the development items of {run_dir}",
            hint="evaluate other subsets (--subset ...) or tune on a different split",
        )
    dev_subsets = {it.subset for it in dev_items}
    same = sorted(dev_subsets & {e.subset for e in evaluated}) if dev_task == task_name else []
    if same:
        raise UserError(
            f"refusing to tune the threshold on the evaluated split: subset(s) {same} of task '{task_name}' "
            f"are both the development split ({run_dir}) and evaluated here",
            hint="drop them from this run with --subset, or tune on another split",
        )


def tune_from_run(
    run_dir: Path,
    *,
    split: str | None,
    evaluated: Sequence[Example],
    task_name: str,
    settings: Mapping[str, Any],
) -> ThresholdPolicy:
    """Tune the threshold on the items of an earlier run (optionally one ``split`` of it).

    ``settings`` are the evaluated run's evaluator settings (compared with the development run's on
    :data:`SCORING_KEYS`); ``evaluated`` are the examples this run will score (checked for overlap).
    Items the development run could not score (invalid) are left out and counted.
    """
    from rmbench.results.files import ITEMS_FILE, RUN_FILE, SUMMARY_FILE, read_items, read_json

    run_dir = Path(run_dir)
    if not (run_dir / RUN_FILE).is_file() or not (run_dir / ITEMS_FILE).is_file():
        raise UserError(f"{run_dir}: not a run directory (no {RUN_FILE} and {ITEMS_FILE})",
                        hint="pass the output folder of an earlier 'rmbench run' on the development split")
    manifest = read_json(run_dir / RUN_FILE)
    _check_same_scorer(manifest.get("config", {}), settings, run_dir)
    items = list(read_items(run_dir / ITEMS_FILE).items.values())
    available = sorted({it.subset for it in items})
    if split is not None:
        items = [it for it in items if it.subset == split]
        if not items:
            raise UserError(f"{run_dir} has no items of split '{split}'", hint=f"it has: {', '.join(available)}")
    dev_task = str(manifest.get("task", {}).get("name", ""))
    _check_not_evaluated(items, dev_task, evaluated, task_name, run_dir)
    scores, gold, unusable = [], [], 0
    for it in items:
        s = it.scores.get("step_scores")
        if it.invalid or not isinstance(s, list) or "gold_first_error" not in it.extra:
            unusable += 1
            continue
        scores.append([float(x) for x in s])
        gold.append(it.extra["gold_first_error"])
    if not scores:
        raise UserError(f"{run_dir}: no item with step scores and a gold first error (a process-reward run?)")
    try:
        tuned = tune_threshold(scores, gold)
    except ValueError as exc:
        raise UserError(f"{run_dir}: cannot tune a threshold: {exc}") from None
    record = {
        "criterion": "max ProcessBench F1 (harmonic mean of accuracy on erroneous and on correct items)",
        "dev_run": str(run_dir),
        "dev_task": dev_task,
        "dev_splits": [split] if split is not None else available,
        "dev_items": len(scores),
        "dev_items_unusable": unusable,
        "dev_items_sha256": _sha256(run_dir / ITEMS_FILE),
        "dev_summary_sha256": _sha256(run_dir / SUMMARY_FILE),
        "dev_f1": tuned["f1"],
        "dev_acc_erroneous": tuned["acc_erroneous"],
        "dev_acc_correct": tuned["acc_correct"],
    }
    return ThresholdPolicy(tuned["threshold"], "tuned", record)
