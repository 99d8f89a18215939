"""FactBench / Factcheck-GPT records -> :class:`~rmbench.datatypes.ClaimExample` (issue 13).

Three upstream files (``baselines/Factcheck-GPT`` of github.com/launchnlp/FactBench @ c274008c):

* ``openfactcheck_factbench.jsonl`` (4,835 responses; :func:`convert`): ``prompt``, ``response``,
  ``response_label``, ``claims`` and ``claim_labels`` (``true`` / ``false`` / ``"unknown"``),
  ``source``. Only 328 responses have claims (factool-qa, felm-wk, factcheckgpt); the 4,507
  halueval-dolly15k responses have none and are skipped (counted). Subset = ``source``. Rows from
  felm-wk carry FELM's CC BY-NC-SA terms: read from the data directory, never bundled.
* ``factcheck_gpt_benchmark.jsonl`` (94 responses; :func:`factcheck_gpt`): sentences -> decontextualised
  claims with ``claims_factuality_label`` and, per claim, automatically retrieved evidence passages
  (``auto_evidence``) frozen with the data.
* the same file, evidence-stance subtask (:func:`factcheck_gpt_stance`): one item per (claim, evidence
  passage) with the passage's ``stance_claim_autoEvid`` label (completely-support, partially-support,
  refute, irrelevant).

Ids ``<source>:<line>:<claim>``; cluster = the response (``<source>:<line>``), so intervals resample
responses. Labels go through the task's explicit ``label_map`` (:mod:`rmbench.data.converters.claim_labels`).
"""

from __future__ import annotations

from typing import Any

from rmbench.data.converters import ConvertContext
from rmbench.data.converters.claim_labels import label_scheme
from rmbench.data.sources import Record
from rmbench.datatypes import ClaimExample

EVIDENCE_OPTION = "max_evidence_chars"


def _claim(ctx: ConvertContext, record: Record, *, id: str, subset: str, cluster: str, claim: str, label: Any,
           field: str, context: str = "", prompt: str = "", evidence: tuple[str, ...] = (),
           meta: dict[str, Any] | None = None) -> ClaimExample | None:
    scheme = label_scheme(ctx, (EVIDENCE_OPTION,))
    gold = scheme.map(label, record, field, ctx)
    if gold is None or not str(claim).strip():
        return None
    return ClaimExample(id=id, subset=subset, prompt=prompt or claim, claim=str(claim), label=gold,
                        classes=scheme.classes, context=context, evidence=evidence, cluster=cluster,
                        meta={"upstream_label": str(label), **(meta or {})})


def convert(record: Record, ctx: ConvertContext) -> list[ClaimExample] | None:
    """One FactBench response -> its claims (None when it has none)."""
    claims = ctx.get(record, "claims", types=(list,), default=[])
    labels = ctx.get(record, "claim_labels", types=(list,), default=[])
    if not claims:
        return None
    if len(claims) != len(labels):
        raise ctx.fail(record, f"{len(claims)} claims but {len(labels)} claim_labels", "claim_labels")
    source = str(ctx.get(record, "source", types=(str,)))
    response_id = f"{source}:{record.line}"
    # one felm-wk record has a null response: its claims, joined, stand in for it
    context = str(ctx.get(record, "response", types=(str,), default="") or " ".join(map(str, claims)))
    out = []
    for j, (claim, label) in enumerate(zip(claims, labels, strict=True)):
        ex = _claim(ctx, record, id=f"{response_id}:{j}", subset=record.subset or source, cluster=response_id,
                    claim=claim, label=label, field=f"claim_labels[{j}]",
                    context=context, prompt=str(ctx.get(record, "prompt", types=(str,))),
                    meta={"response_label": record.data.get("response_label")})
        if ex is not None:
            out.append(ex)
    return out or None


def _passages(value: Any, limit: int) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(str(p)[:limit] for p in value if isinstance(p, str) and p.strip())


def _sentences(record: Record, ctx: ConvertContext) -> list[dict[str, Any]]:
    sentences = ctx.get(record, "sentences", types=(dict,))
    return [sentences[k] for k in sorted(sentences, key=lambda k: int("".join(ch for ch in k if ch.isdigit()) or 0))]


def factcheck_gpt(record: Record, ctx: ConvertContext) -> list[ClaimExample] | None:
    """One Factcheck-GPT response -> its claims, each with its frozen evidence passages."""
    limit = int(ctx.options.get(EVIDENCE_OPTION, 1500))
    response_id = f"factcheck-gpt:{record.line}"
    out = []
    for s_idx, sent in enumerate(_sentences(record, ctx)):
        claims, labels = sent.get("claims") or [], sent.get("claims_factuality_label") or []
        if len(claims) != len(labels):
            raise ctx.fail(record, f"sentence {s_idx + 1}: {len(claims)} claims but {len(labels)} labels",
                           "claims_factuality_label")
        evidence = sent.get("auto_evidence") or []
        for c_idx, (claim, label) in enumerate(zip(claims, labels, strict=True)):
            ex = _claim(ctx, record, id=f"{response_id}:{s_idx}.{c_idx}", subset=record.subset or "factcheck-gpt",
                        cluster=response_id, claim=claim, label=label,
                        field=f"sentences[{s_idx}].claims_factuality_label[{c_idx}]",
                        context=str(ctx.get(record, "response", types=(str,))),
                        prompt=str(ctx.get(record, "prompt", types=(str,))),
                        evidence=_passages(evidence[c_idx] if c_idx < len(evidence) else None, limit))
            if ex is not None:
                out.append(ex)
    return out or None


def factcheck_gpt_stance(record: Record, ctx: ConvertContext) -> list[ClaimExample] | None:
    """One Factcheck-GPT response -> one item per (claim, evidence passage) with the passage's stance."""
    limit = int(ctx.options.get(EVIDENCE_OPTION, 1500))
    response_id = f"factcheck-gpt:{record.line}"
    out = []
    for s_idx, sent in enumerate(_sentences(record, ctx)):
        claims = sent.get("claims") or []
        evidence, stances = sent.get("auto_evidence") or [], sent.get("stance_claim_autoEvid") or []
        for c_idx, claim in enumerate(claims):
            passages = evidence[c_idx] if c_idx < len(evidence) else []
            labels = stances[c_idx] if c_idx < len(stances) else []
            if not labels:  # upstream left some claims' passages without stance labels: nothing to grade
                continue
            if len(passages) != len(labels):
                raise ctx.fail(record, f"sentence {s_idx + 1}, claim {c_idx + 1}: {len(passages)} passages but "
                                       f"{len(labels)} stance labels", "stance_claim_autoEvid")
            for e_idx, (passage, stance) in enumerate(zip(passages, labels, strict=True)):
                ex = _claim(ctx, record, id=f"{response_id}:{s_idx}.{c_idx}.e{e_idx}",
                            subset=record.subset or "stance", cluster=response_id, claim=claim, label=stance,
                            field=f"sentences[{s_idx}].stance_claim_autoEvid[{c_idx}][{e_idx}]",
                            prompt=str(ctx.get(record, "prompt", types=(str,))),
                            evidence=(str(passage)[:limit],))
                if ex is not None:
                    out.append(ex)
    return out or None
