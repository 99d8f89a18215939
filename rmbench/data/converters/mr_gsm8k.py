"""MR-GSM8K records -> :class:`~rmbench.datatypes.StepwiseExample` (erroneous solutions only).

Upstream (github.com/dvlab-research/MR-GSM8K): ``uuid``, ``question``, ``question_type``
(``original``, ``reversed`` or ``POT``: program-of-thought), ``model_output_steps`` (a list of steps,
each starting ``"Step k:"``), ``model_output_solution_correctness`` and
``model_output_solution_first_error_step``: the **1-based** number of the first wrong step.
The available file (``mr_gsm8k_wrong_subset_union.jsonl``) holds only solutions whose reasoning is
wrong; a record marked correct is refused, since its first error would be undefined. Subsets are the
question types; ``meta`` keeps the ground-truth answer, whether the final answer happened to be
right, and the annotator's reason.
"""

from __future__ import annotations

from rmbench.data.converters import ConvertContext
from rmbench.data.converters.fields import read_id, read_text, read_text_list
from rmbench.data.converters.processbench import read_first_error
from rmbench.data.sources import Record
from rmbench.datatypes import StepwiseExample


def convert(record: Record, ctx: ConvertContext) -> StepwiseExample:
    """One MR-GSM8K record -> one erroneous example (first error converted to 0-based)."""
    correctness = read_text(ctx, record, "model_output_solution_correctness")
    if correctness != "wrong":
        raise ctx.fail(
            record, f"expected a wrong solution (this task scores first-error steps), got {correctness!r}",
            field="model_output_solution_correctness",
        )
    steps = read_text_list(ctx, record, "model_output_steps")
    first = read_first_error(ctx, record, "model_output_solution_first_error_step", len(steps), base=1)
    if first is None:
        raise ctx.fail(record, "a wrong solution needs a first error step", field="model_output_solution_first_error_step")
    return StepwiseExample(
        id=read_id(ctx, record, "uuid"),
        subset=read_text(ctx, record, "question_type"),
        prompt=({"role": "user", "content": read_text(ctx, record, "question")},),
        steps=tuple(steps),
        first_error=first,
        meta={
            "ground_truth_answer": record.data.get("ground_truth_answer"),
            "final_answer_correct": record.data.get("model_output_answer_correctness") == "correct",
            "first_error_reason": record.data.get("model_output_solution_first_error_reason"),
        },
    )
