"""RewardMATH records -> examples.

**Direct** (``RewardMATH_direct.json``; ``convert`` + ``finish``): one record per solution, with
``problem``, ``problem_id``, ``solution_type`` (``"chosen"`` | ``"rejected"``), ``eval_solution``
(a list of steps), ``solution_reference`` (which model wrote it), ``answer``, ``subject``, ``level``,
``id``. RewardMATH gives each problem one correct solution and nine incorrect ones; the records of a
problem are grouped into one ``MultiResponseExample(scoring="best_of_n")`` (correct when the chosen
solution outscores all the others). Steps are joined with a blank line (``"\\n\\n"``). Ids are
``problem-<problem_id>``; ``meta`` keeps the answer, subject, level, the writers of the solutions
(``correct_sources`` / ``incorrect_sources``, in response order) and the upstream record ids.

**Pairwise** (``RewardMATH_pairwise.json``; ``convert_pairwise``): ``eval_solution_A``,
``eval_solution_B`` and ``chosen_position`` (``"A"`` | ``"B"``), nine pairs per problem. The pairs
of one problem share the cluster ``problem-<problem_id>``: they reuse the same chosen solution and
are not independent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rmbench.data.converters import ConvertContext
from rmbench.data.converters.fields import read_id, read_prompt, read_text
from rmbench.data.sources import Record
from rmbench.datatypes import MultiResponseExample, PairwiseExample
from rmbench.errors import RecordError

STEP_SEPARATOR = "\n\n"
SUBSET = "rewardmath"
_STATE_KEY = "rewardmath_problems"


@dataclass
class _Problem:
    """The solutions seen so far for one problem, and where its first record was."""

    file: str
    line: int
    subset: str
    problem: str
    prompt: tuple[dict[str, str], ...]
    meta: dict[str, Any]
    correct: list[tuple[str, str, str]] = field(default_factory=list)  # (text, writer, upstream id)
    incorrect: list[tuple[str, str, str]] = field(default_factory=list)


def read_solution(ctx: ConvertContext, record: Record, column: str) -> str:
    """A solution given as a list of step strings (joined with a blank line) or as one string."""
    value = ctx.get(record, column, types=(list, str))
    if isinstance(value, str):
        return value
    for i, step in enumerate(value):
        if not isinstance(step, str):
            raise ctx.fail(record, f"step {i} should be a string, got {type(step).__name__}", field=column)
    return STEP_SEPARATOR.join(value)


def convert(record: Record, ctx: ConvertContext) -> list[MultiResponseExample]:
    """Remember one solution record; the examples are built by :func:`finish`."""
    problem_id = read_id(ctx, record, "problem_id")
    subset = record.subset or SUBSET
    problem_text = read_text(ctx, record, "problem")
    problems: dict[tuple[str, str], _Problem] = ctx.state.setdefault(_STATE_KEY, {})
    group = problems.get((subset, problem_id))
    if group is None:
        meta = {
            key: record.data[key]
            for key in ("answer", "subject", "level")
            if record.data.get(key) is not None
        }
        group = _Problem(
            record.file, record.line, subset, problem_text, read_prompt(ctx, record, "problem"), meta
        )
        problems[(subset, problem_id)] = group
    elif group.problem != problem_text:
        raise ctx.fail(
            record,
            f"problem {problem_id} has a different text here than at {group.file}:{group.line}",
            field="problem",
        )
    solution_type = read_text(ctx, record, "solution_type")
    if solution_type not in {"chosen", "rejected"}:
        raise ctx.fail(
            record, f"expected 'chosen' or 'rejected', got {solution_type!r}", field="solution_type"
        )
    writer = record.data.get("solution_reference")
    entry = (
        read_solution(ctx, record, "eval_solution"),
        writer if isinstance(writer, str) else "",
        read_id(ctx, record, "id") if record.data.get("id") is not None else f"{record.file}:{record.line}",
    )
    (group.correct if solution_type == "chosen" else group.incorrect).append(entry)
    return []  # kept for finish(); an empty list (unlike None) does not count the record as skipped


def finish(ctx: ConvertContext) -> list[MultiResponseExample]:
    """One best-of-n example per problem: exactly one chosen and at least one rejected solution."""
    problems: dict[tuple[str, str], _Problem] = ctx.state.get(_STATE_KEY, {})
    examples = []
    for (subset, problem_id), group in problems.items():
        if len(group.correct) != 1 or not group.incorrect:
            raise RecordError(
                group.file,
                group.line,
                f"problem {problem_id} has {len(group.correct)} chosen and {len(group.incorrect)} rejected "
                "solutions; expected exactly one chosen and at least one rejected",
                field="solution_type",
            )
        examples.append(
            MultiResponseExample(
                id=f"problem-{problem_id}",
                subset=subset,
                prompt=group.prompt,
                correct=tuple(text for text, _, _ in group.correct),
                incorrect=tuple(text for text, _, _ in group.incorrect),
                scoring="best_of_n",
                meta={
                    **group.meta,
                    "problem_id": problem_id,
                    "correct_sources": [w for _, w, _ in group.correct],
                    "incorrect_sources": [w for _, w, _ in group.incorrect],
                    "record_ids": [i for _, _, i in group.correct + group.incorrect],
                },
            )
        )
    return examples


def convert_pairwise(record: Record, ctx: ConvertContext) -> PairwiseExample:
    """One RewardMATH pairwise record -> one :class:`PairwiseExample`, clustered by problem."""
    position = read_text(ctx, record, "chosen_position")
    if position not in {"A", "B"}:
        raise ctx.fail(record, f"expected 'A' or 'B', got {position!r}", field="chosen_position")
    solution_a = read_solution(ctx, record, "eval_solution_A")
    solution_b = read_solution(ctx, record, "eval_solution_B")
    chosen, rejected = (solution_a, solution_b) if position == "A" else (solution_b, solution_a)
    problem_id = read_id(ctx, record, "problem_id")
    meta: dict[str, Any] = {"chosen_position": position, "problem_id": problem_id}
    for key in ("solution_reference", "subject", "level"):
        if record.data.get(key) is not None:
            meta[key] = record.data[key]
    return PairwiseExample(
        id=f"pair-{read_id(ctx, record, 'id')}",
        subset=record.subset or SUBSET,
        prompt=read_prompt(ctx, record, "problem"),
        chosen=chosen,
        rejected=rejected,
        cluster=f"problem-{problem_id}",
        meta=meta,
    )
