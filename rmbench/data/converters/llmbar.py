"""LLMBar-style pairwise records (LLMBar's five sets, LLMBar's processed MT-Bench) -> PairwiseExample.

Two record schemas are accepted:

* **LLMBar files** (``Dataset/LLMBar/*/dataset.json``): ``input``, ``output_1``, ``output_2`` and
  ``label`` (1 or 2: which output is preferred). The subset is the label the task's ``files`` map
  gives the file; the id is ``<subset>:<0-based index in the file>``.
* **RewardBench rows** (``allenai/reward-bench``, split ``filtered``): ``prompt``, ``chosen``,
  ``rejected``, ``subset``, ``id``. Rows whose ``subset`` is not among the task's ``subsets`` are
  skipped (counted), so the whole RewardBench split can serve as the Hub source of the LLMBar task.
  The id is ``<subset>:<0-based index among that subset's rows>``, which equals the LLMBar-file id as
  long as RewardBench keeps LLMBar's order; the RewardBench row id is kept in ``meta``.

``meta["label"]`` keeps which LLMBar output was preferred (1 or 2), so position effects of judges can
be analysed against the original order; ``meta["chosen_position"]`` says the same as ``"a"`` (output 1)
or ``"b"``, the key A/B score files are read with (:mod:`rmbench.adapters.precomputed`).
"""

from __future__ import annotations

from rmbench.data.converters import ConvertContext
from rmbench.data.converters.fields import read_id, read_prompt, read_text
from rmbench.data.sources import Record
from rmbench.datatypes import PairwiseExample


def convert(record: Record, ctx: ConvertContext) -> PairwiseExample | None:
    """One LLMBar file record or RewardBench row -> one :class:`PairwiseExample` (None: other subset)."""
    data = record.data
    if "output_1" in data or "output_2" in data or "input" in data:
        return _from_llmbar(record, ctx)
    if "chosen" in data or "rejected" in data:
        return _from_rewardbench(record, ctx)
    have = ", ".join(sorted(map(str, data))[:12])
    raise ctx.fail(
        record,
        "neither an LLMBar record (input, output_1, output_2, label) nor a RewardBench row "
        f"(prompt, chosen, rejected, subset, id); record has: {have}",
    )


def _from_llmbar(record: Record, ctx: ConvertContext) -> PairwiseExample:
    subset = record.subset
    if not subset:
        raise ctx.fail(
            record, "no subset label for this file; list it as '<subset>: <path>' under source files"
        )
    label = _read_label(ctx, record)
    output_1 = read_text(ctx, record, "output_1")
    output_2 = read_text(ctx, record, "output_2")
    chosen, rejected = (output_1, output_2) if label == 1 else (output_2, output_1)
    return PairwiseExample(
        id=f"{subset}:{record.line - 1}",
        subset=subset,
        prompt=read_prompt(ctx, record, "input"),
        chosen=chosen,
        rejected=rejected,
        meta={"label": label, "chosen_position": "a" if label == 1 else "b"},
    )


def _read_label(ctx: ConvertContext, record: Record) -> int:
    value = ctx.get(record, "label", types=(int, str))
    if isinstance(value, bool) or str(value).strip() not in {"1", "2"}:
        raise ctx.fail(record, f"expected 1 or 2 (which output is preferred), got {value!r}", field="label")
    return int(str(value).strip())


def _from_rewardbench(record: Record, ctx: ConvertContext) -> PairwiseExample | None:
    subset = read_text(ctx, record, "subset")
    wanted = ctx.spec.subsets
    if wanted and subset not in wanted:
        return None
    counters: dict[str, int] = ctx.state.setdefault("llmbar_index", {})
    index = counters.get(subset, 0)
    counters[subset] = index + 1
    meta = {"rewardbench_id": read_id(ctx, record, "id")}
    for key in ("chosen_model", "rejected_model"):
        if isinstance(record.data.get(key), str):
            meta[key] = record.data[key]
    return PairwiseExample(
        id=f"{subset}:{index}",
        subset=subset,
        prompt=read_prompt(ctx, record, "prompt"),
        chosen=read_text(ctx, record, "chosen"),
        rejected=read_text(ctx, record, "rejected"),
        meta=meta,
    )
