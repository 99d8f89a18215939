"""RM-Bench records -> MultiResponseExample(scoring="style_matrix").

Each record holds the same chosen and rejected content in three styles, in this order:
``[concise, detailed plain text, detailed markdown]`` (``STYLES``). The grader compares all 3 x 3
chosen/rejected pairs and splits them into hard (chosen less styled than rejected), normal (same
style) and easy.

Where the subset comes from:

* local mirror (``data/<domain>_filtered.json`` from the GitHub repository): the label the task's
  ``files`` map gives the file (chat, code, safety-refuse, safety-response);
* Hub (``THU-KEG/RM-Bench``, one split with every domain): the record's ``domain`` field
  (chat, code, math, safety-refuse, safety-response).

The upstream fine-grained ``subset`` field (e.g. ``alpacaeval``, ``xstest-should-refuse``,
``bigcode/humanevalpack``) is kept as ``meta["upstream_subset"]``; code records also keep
``language`` and ``task_id``. Ids are ``<subset>:<upstream id>``.
"""

from __future__ import annotations

from rmbench.data.converters import ConvertContext
from rmbench.data.converters.fields import read_id, read_prompt, read_text, read_text_list
from rmbench.data.sources import Record
from rmbench.datatypes import MultiResponseExample

STYLES = ("concise", "detailed_plain", "detailed_markdown")
_KEEP = ("language", "task_id")


def convert(record: Record, ctx: ConvertContext) -> MultiResponseExample:
    """One RM-Bench record -> one style-matrix example (3 chosen x 3 rejected responses)."""
    subset = record.subset or _domain(record, ctx)
    meta: dict[str, object] = {"styles": list(STYLES)}
    upstream_subset = record.data.get("subset")
    if upstream_subset is not None:
        meta["upstream_subset"] = read_text(ctx, record, "subset")
    for key in _KEEP:
        if isinstance(record.data.get(key), str):
            meta[key] = record.data[key]
    return MultiResponseExample(
        id=f"{subset}:{read_id(ctx, record, 'id')}",
        subset=subset,
        prompt=read_prompt(ctx, record, "prompt"),
        correct=tuple(read_text_list(ctx, record, "chosen", length=len(STYLES))),
        incorrect=tuple(read_text_list(ctx, record, "rejected", length=len(STYLES))),
        scoring="style_matrix",
        meta=meta,
    )


def _domain(record: Record, ctx: ConvertContext) -> str:
    domain = read_text(ctx, record, "domain")
    wanted = ctx.spec.subsets
    if wanted and domain not in wanted:
        raise ctx.fail(
            record, f"unknown domain {domain!r} (task subsets: {', '.join(wanted)})", field="domain"
        )
    return domain
