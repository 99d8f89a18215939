"""PRMBench records -> :class:`~rmbench.datatypes.StepwiseExample` with per-step labels.

Upstream (github.com/ssmisya/PRMBench, ``mr_eval/tasks/prmtest_classified/data``): one jsonl file
per error class and part (``prm800k_{test_p1,test_p2,train_p1_first400}_4o_<class>.jsonl``; the
redundancy files are spelled ``redundency``). Each record takes a PRM800K solution
(``original_process``) and rewrites it to contain one kind of error: ``modified_question``,
``modified_process`` (the steps scored here), ``error_steps`` (**1-based** indices of the wrong
steps), ``classification`` and ``idx`` (the PRM800K problem, shared by the classes).

Labels, as PRMBench's own evaluation counts them: a step listed in ``error_steps`` is wrong (0), every
other step is correct (1); ``first_error`` is the smallest wrong step (0-based). Upstream lists some
error steps past the end of the solution (100 of 6,051 records); those indices are dropped (their
count is kept in ``meta["error_steps_out_of_range"]``) and a record left with no wrong step inside
its solution is skipped and counted (16 records).

Subsets are the error classes, with readable names (:data:`CLASS_NAMES`). The id is
``<subset>:<idx>``; the cluster is ``idx``, so the eight rewrites of one problem are resampled
together.
"""

from __future__ import annotations

from rmbench.data.converters import ConvertContext
from rmbench.data.converters.fields import read_id, read_text, read_text_list
from rmbench.data.sources import Record
from rmbench.datatypes import StepwiseExample

CLASS_NAMES: dict[str, str] = {
    "redundency": "redundancy",
    "circular": "circular_logic",
    "counterfactual": "counterfactual",
    "step_contradiction": "step_contradiction",
    "domain_inconsistency": "domain_inconsistency",
    "confidence": "confidence",
    "missing_condition": "missing_condition",
    "deception": "deception",
}
"""Upstream ``classification`` -> subset name (the upstream typo 'redundency' is fixed here)."""


def _error_steps(ctx: ConvertContext, record: Record) -> list[int]:
    value = ctx.get(record, "error_steps", types=(list,))
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ctx.fail(record, f"expected a list of 1-based step numbers, got {value!r:.80}", field="error_steps")
    if any(v < 1 for v in value):
        raise ctx.fail(record, f"step numbers are 1-based, got {value!r:.80}", field="error_steps")
    return list(value)


def convert(record: Record, ctx: ConvertContext) -> StepwiseExample | None:
    """One PRMBench record -> one example; ``None`` (skipped) when no wrong step lies inside the solution."""
    classification = read_text(ctx, record, "classification")
    subset = CLASS_NAMES.get(classification)
    if subset is None:
        known = ", ".join(sorted(CLASS_NAMES))
        raise ctx.fail(record, f"unknown error class {classification!r} (known: {known})", field="classification")
    if record.subset and record.subset != subset:
        raise ctx.fail(record, f"class {classification!r} in a file listed under subset '{record.subset}'")
    steps = read_text_list(ctx, record, "modified_process")
    wrong = _error_steps(ctx, record)
    inside = sorted({v - 1 for v in wrong if v <= len(steps)})
    if not inside:
        return None
    idx = read_id(ctx, record, "idx")
    labels = tuple(0 if i in inside else 1 for i in range(len(steps)))
    return StepwiseExample(
        id=f"{subset}:{idx}",
        subset=subset,
        prompt=({"role": "user", "content": read_text(ctx, record, "modified_question")},),
        steps=tuple(steps),
        first_error=inside[0],
        step_labels=labels,
        error_class=subset,
        cluster=idx,
        meta={"error_steps": wrong, "error_steps_out_of_range": sum(v > len(steps) for v in wrong)},
    )
