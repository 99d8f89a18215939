"""Checks across the keys of a task file that the schema alone cannot make (typos caught at load time).

* ``scoring.primary_metric``, ``report_metrics`` and ``subset_metrics`` name a metric the task's
  example kind produces (:data:`ITEM_METRICS`) or one of its ``aggregates``;
* every ``aggregates.<name>.of`` entry names a per-item metric (``auroc`` also takes its inputs
  ``step_scores`` / ``step_labels``);
* every subset a section lists is a subset the task declares (``subsets:``, or the labels of its
  local, bundled or Hub files); a task that declares none is not checked here;
* a task file's name is its ``name`` plus ``.yaml`` (discovery finds tasks by file name).

Each problem is a :class:`Problem` naming the key path, so the caller can give the YAML line (or the
command-line override) and a did-you-mean.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rmbench.adapters.claims import item_metric_names

if TYPE_CHECKING:
    from rmbench.data.task_spec import TaskSpec

_JUDGE_PAIRWISE = ("consistent", "acc_consistent", "prob_accuracy", "first_slot", "unparseable")
ITEM_METRICS: dict[str, tuple[str, ...]] = {
    "pairwise": ("accuracy", *_JUDGE_PAIRWISE),
    "multi_response": (
        "accuracy", "hard", "normal", "easy", "tied_acc", "ref_acc", "preferred", "preferred_hard", "margin",
        *_JUDGE_PAIRWISE,
    ),
    "pointwise": ("accuracy", "says_yes", "false_positive", "true_positive", "abs_error", "unparseable"),
    "segments": (
        "seg_tp", "seg_fp", "seg_fn", "seg_tn", "resp_tp", "resp_fp", "resp_fn", "resp_tn", "unparseable",
    ),
    "stepwise": (
        "acc_erroneous", "acc_correct", "argmin_acc_erroneous", "step_tp", "step_fp", "step_tn", "step_fn",
        "unparseable",
    ),
    "claims": item_metric_names(),  # claim verification with the default classes (issue 13)
    "rfeval": (
        "rf", "coverage", "accuracy", "unparseable", "unfinished", "consistency_original",
        "consistency_intervened", "causal_influence",
    ),
    # CoT faithfulness (rmbench.adapters.faithfulness.grading); traces may add faithful_<their verdict names>
    "hinted": ("influenced", "unparseable", "faithful_regex", "faithful_pipeline", "faithful_judge", "judge_unparseable"),
    "trace": ("influenced", "unparseable", "faithful_regex", "faithful_pipeline", "faithful_judge", "judge_unparseable"),
}  # fmt: skip
"""Per-item metrics each example kind's graders can write (rmbench.grading.core, judge_grading, step_grading)."""

AUROC_INPUTS = ("step_scores", "step_labels")


@dataclass(frozen=True)
class Problem:
    loc: tuple[str, ...]  # key path in the task file, e.g. ("scoring", "aggregates", "f1", "of", "0")
    message: str


def _unknown(what: str, name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    tail = f" (did you mean '{close[0]}'?)" if close else f"; known: {', '.join(known)}"
    return f"'{name}' is not {what}{tail}"


def declared_subsets(spec: TaskSpec) -> list[str] | None:
    """The subsets a task names up front, or None when they come from the data only."""
    if spec.subsets:
        return list(spec.subsets)
    found: list[str] = []
    for local in (spec.source.local, spec.source.bundled):
        if local is not None and isinstance(local.files, dict):
            found += list(local.files)
    if spec.source.hub is not None and spec.source.hub.subsets:
        found += list(spec.source.hub.subsets)
    return list(dict.fromkeys(found)) or None


def check_task(spec: TaskSpec, path: Path | None) -> list[Problem]:
    """Every cross-key problem of ``spec`` (read from ``path``, if any), in file order."""
    problems: list[Problem] = []
    if path is not None and path.suffix in (".yaml", ".yml") and spec.name != path.stem:
        problems.append(Problem(("name",), f"key 'name' is '{spec.name}' but the file is named '{path.name}'"))
    scoring = spec.scoring
    item_metrics = list(ITEM_METRICS.get(spec.example_kind, ()))
    metrics = item_metrics + [a for a in scoring.aggregates if a not in item_metrics]
    what = f"a metric of {spec.example_kind} tasks or an aggregate of this task"
    if scoring.primary_metric not in metrics:
        problems.append(Problem(("scoring", "primary_metric"), _unknown(what, scoring.primary_metric, metrics)))
    for i, name in enumerate(scoring.report_metrics):
        if name not in metrics:
            problems.append(Problem(("scoring", "report_metrics", str(i)), _unknown(what, name, metrics)))
    for subset, name in scoring.subset_metrics.items():
        if name not in metrics:
            problems.append(Problem(("scoring", "subset_metrics", subset), _unknown(what, name, metrics)))
    for agg_name, agg in scoring.aggregates.items():
        inputs = item_metrics + list(AUROC_INPUTS) if agg.kind == "auroc" else item_metrics
        for i, name in enumerate(agg.of):
            if name not in inputs:
                problems.append(Problem(
                    ("scoring", "aggregates", agg_name, "of", str(i)),
                    _unknown(f"a per-item metric of {spec.example_kind} tasks", name, inputs),
                ))
    subsets = declared_subsets(spec)
    if subsets is not None:
        for section, members in scoring.sections.items():
            for i, name in enumerate(members):
                if name not in subsets:
                    problems.append(Problem(
                        ("scoring", "sections", section, str(i)),
                        _unknown(f"a subset of this task (section '{section}')", name, subsets),
                    ))
    return problems
