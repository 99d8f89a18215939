"""RewardBench 2 rows -> MultiResponseExample.

Row schema (``allenai/reward-bench-2``, split ``test``): ``id``, ``prompt``, ``chosen`` (list),
``rejected`` (list), ``num_correct``, ``num_incorrect``, ``total_completions``, ``models``, ``subset``,
``additional_metadata``.

* Factuality, Precise IF, Math, Safety, Focus: best-of-4 (one chosen, three rejected) ->
  ``scoring="best_of_n"``; correct when the chosen response outscores all rejected ones.
* Ties: ``scoring="ties"``. Ids come in pairs ``tied:<n>`` (a question with several correct answers,
  e.g. "Name a color of the rainbow") and ``ref:<n>`` (a narrowed question with one correct answer).
  The two rows have **different prompts** and upstream scores each response under its own row's
  prompt, so they stay two examples (never one example with one prompt); both get
  ``cluster="ties:<n>"`` so the bootstrap resamples a prompt's rows together. ``meta`` holds
  ``ties_role`` (``"tied"`` | ``"ref"``), ``ties_prompt`` (``n``) and ``num_correct``.

Ties is graded by :mod:`rmbench.grading.ties` (upstream ``rewardbench/utils.py``,
``_compute_prompt_stats`` / ``process_single_model``): per row, ``accuracy`` / ``tied_acc`` /
``ref_acc``; per prompt with both rows, computed from the two items at summary time, ``preferred``,
``preferred_hard`` and ``margin``; the subset score is the ``ties_score`` aggregate of
``tasks/rewardbench-2.yaml`` (0.30 tied_acc + 0.30 ref_acc + 0.20 preferred + 0.20 preferred_hard +
0.01 margin).
"""

from __future__ import annotations

import re
from typing import Any

from rmbench.data.converters import ConvertContext
from rmbench.data.converters.fields import read_id, read_prompt, read_text, read_text_list
from rmbench.data.sources import Record
from rmbench.datatypes import MultiResponseExample

TIES = "Ties"
_TIES_ID = re.compile(r"^(tied|ref):(\d+)$")


def convert(record: Record, ctx: ConvertContext) -> MultiResponseExample:
    """One RewardBench 2 row -> one example (best-of-n, or a Ties prompt)."""
    ident = read_id(ctx, record, "id")
    subset = read_text(ctx, record, "subset")
    correct = read_text_list(ctx, record, "chosen")
    incorrect = read_text_list(ctx, record, "rejected")
    _check_count(ctx, record, "num_correct", len(correct))
    _check_count(ctx, record, "num_incorrect", len(incorrect))
    meta: dict[str, Any] = {"num_correct": len(correct), "num_incorrect": len(incorrect)}
    models = record.data.get("models")
    if models is not None:
        meta["models"] = read_text_list(ctx, record, "models", min_length=0)
    extra = record.data.get("additional_metadata")
    if isinstance(extra, dict):
        meta["additional_metadata"] = {k: v for k, v in extra.items() if v is not None}
    cluster = ""
    scoring = "best_of_n"
    if subset == TIES:
        match = _TIES_ID.match(ident)
        if match is None:
            raise ctx.fail(record, f"Ties ids look like 'tied:<n>' or 'ref:<n>', got {ident!r}", field="id")
        role, number = match.group(1), int(match.group(2))
        cluster = f"ties:{number}"
        scoring = "ties"
        meta.update(ties_role=role, ties_prompt=number)
    return MultiResponseExample(
        id=ident,
        subset=subset,
        prompt=read_prompt(ctx, record, "prompt"),
        correct=tuple(correct),
        incorrect=tuple(incorrect),
        scoring=scoring,  # type: ignore[arg-type]
        cluster=cluster,
        meta=meta,
    )


def _check_count(ctx: ConvertContext, record: Record, key: str, actual: int) -> None:
    """Upstream scoring trusts ``num_correct``/``num_incorrect``; they must match the lists."""
    value = ctx.get(record, key, types=(int,), default=None)
    if value is not None and value != actual:
        listed = "chosen" if key == "num_correct" else "rejected"
        raise ctx.fail(record, f"is {value} but '{listed}' holds {actual} responses", field=key)
