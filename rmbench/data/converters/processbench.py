"""ProcessBench records -> :class:`~rmbench.datatypes.StepwiseExample`.

Upstream schema (GitHub ``dataset/<split>.json`` and the Hub ``Qwen/ProcessBench`` splits alike):
``id`` (``"gsm8k-0"``), ``generator`` (the model that wrote the solution), ``problem``, ``steps``
(a list of paragraphs), ``final_answer_correct`` and ``label``: the **0-based** index of the first
wrong step, or ``-1`` when every step is correct. ``-1`` becomes ``first_error=None``; any other
value must index a step. The subset is the label the task gives the file (or, from the Hub, the
split). The upstream id is kept; ``meta`` holds the generator and ``final_answer_correct``.

Order: upstream files list every erroneous solution before every all-correct one, so the first N
items of a split (``--limit N``) would all be erroneous and F1 undefined. :func:`finish` therefore
returns each split's examples alternating erroneous and all-correct ones (each kind in upstream
order, the longer kind's remainder at the end). Only the order changes: ids, contents and the full
set are the upstream ones, and summaries sort items by id.
"""

from __future__ import annotations

from rmbench.data.converters import ConvertContext
from rmbench.data.converters.fields import read_id, read_text, read_text_list
from rmbench.data.sources import Record
from rmbench.datatypes import StepwiseExample

_STATE_KEY = "processbench_examples"


def read_first_error(ctx: ConvertContext, record: Record, column: str, n_steps: int, *, base: int) -> int | None:
    """An upstream first-error index counted from ``base`` (0 or 1) -> 0-based, or ``None`` for -1.

    Anything else outside the steps is a :class:`~rmbench.errors.RecordError` naming the record.
    """
    value = ctx.get(record, column, types=(int, str))
    if isinstance(value, bool) or not str(value).strip().lstrip("-").isdigit():
        raise ctx.fail(record, f"expected an integer step index, got {value!r}", field=column)
    index = int(str(value).strip())
    if index == -1:
        return None
    if not base <= index < n_steps + base:
        raise ctx.fail(record, f"step index {index} outside {base}..{n_steps - 1 + base} (or -1)", field=column)
    return index - base


def convert(record: Record, ctx: ConvertContext) -> list[StepwiseExample]:
    """Read one ProcessBench record; the example is returned, in interleaved order, by :func:`finish`."""
    ctx.state.setdefault(_STATE_KEY, []).append(build_example(record, ctx))
    return []


def finish(ctx: ConvertContext) -> list[StepwiseExample]:
    """Every example, each split alternating erroneous and all-correct solutions (see the module docstring)."""
    by_subset: dict[str, tuple[list[StepwiseExample], list[StepwiseExample]]] = {}
    for ex in ctx.state.get(_STATE_KEY, []):
        wrong, right = by_subset.setdefault(ex.subset, ([], []))
        (wrong if ex.first_error is not None else right).append(ex)
    out: list[StepwiseExample] = []
    for wrong, right in by_subset.values():
        for i in range(max(len(wrong), len(right))):
            out += [kind[i] for kind in (wrong, right) if i < len(kind)]
    return out


def build_example(record: Record, ctx: ConvertContext) -> StepwiseExample:
    """One ProcessBench record -> one example (see the module docstring)."""
    subset = record.subset or read_text(ctx, record, "id").rsplit("-", 1)[0]
    steps = read_text_list(ctx, record, "steps")
    meta = {"generator": record.data.get("generator"), "final_answer_correct": record.data.get("final_answer_correct")}
    return StepwiseExample(
        id=read_id(ctx, record, "id"),
        subset=subset,
        prompt=({"role": "user", "content": read_text(ctx, record, "problem")},),
        steps=tuple(steps),
        first_error=read_first_error(ctx, record, "label", len(steps), base=0),
        meta=meta,
    )
