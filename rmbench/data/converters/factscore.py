"""FActScore labelled biographies -> :class:`~rmbench.datatypes.ClaimExample` (issue 13).

Upstream (``factscore/labeled_data/{ChatGPT,InstructGPT,PerplexityAI}.jsonl`` of Min et al. 2023, as
vendored in github.com/launchnlp/FactBench @ c274008c; 183 biographies each): ``input``, ``output``
(the biography), ``topic`` (the person), ``cat`` (``[rarity, region]``; rarity is very rare, rare,
medium or freq) and ``annotations``: the output's sentences, each with ``human-atomic-facts``
labelled ``S`` (supported), ``NS`` (not supported) or ``IR`` (irrelevant). ``annotations`` is null
when the model abstained; such records are skipped (counted).

* one item per human atomic fact; id ``<model>:<line>:<sentence>.<fact>``; cluster = the biography;
* subset ``<model>/<rarity>`` (the file's label and FActScore's rarity category); the task's
  sections pool them per model and per rarity;
* ``context`` = the biography; no evidence passages (FActScore retrieves Wikipedia at run time; rmbench
  freezes evidence with the data, so verifiers here are closed-book unless they bring their own).
"""

from __future__ import annotations

from rmbench.data.converters import ConvertContext
from rmbench.data.converters.claim_labels import label_scheme
from rmbench.data.sources import Record
from rmbench.datatypes import ClaimExample


def rarity(record: Record, ctx: ConvertContext) -> str:
    cat = ctx.get(record, "cat", types=(list,), default=[])
    return str(cat[0]).replace(" ", "-") if cat else "unknown"


def convert(record: Record, ctx: ConvertContext) -> list[ClaimExample] | None:
    """One biography -> its human atomic facts (None when the model abstained)."""
    scheme = label_scheme(ctx)
    annotations = ctx.get(record, "annotations", types=(list,), default=None)
    if not annotations:
        return None
    model = record.subset or "factscore"
    response_id = f"{model}:{record.line}"
    output = str(ctx.get(record, "output", types=(str,)))
    prompt = str(ctx.get(record, "input", types=(str,)))
    subset = f"{model}/{rarity(record, ctx)}"
    out = []
    for s_idx, sent in enumerate(annotations):
        for f_idx, fact in enumerate(sent.get("human-atomic-facts") or []):
            field = f"annotations[{s_idx}].human-atomic-facts[{f_idx}].label"
            gold = scheme.map(fact.get("label"), record, field, ctx)
            if gold is None or not str(fact.get("text", "")).strip():
                continue
            out.append(ClaimExample(
                id=f"{response_id}:{s_idx}.{f_idx}", subset=subset, prompt=prompt, claim=str(fact["text"]),
                label=gold, classes=scheme.classes, context=output, cluster=response_id,
                meta={"upstream_label": str(fact.get("label")), "topic": record.data.get("topic"),
                      "sentence": sent.get("text")},
            ))  # fmt: skip
    return out or None
