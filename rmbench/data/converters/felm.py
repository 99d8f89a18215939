"""FELM records -> :class:`~rmbench.datatypes.SegmentExample` (one example per response).

Upstream schema (``eval/all.jsonl`` of github.com/hkust-nlp/felm; 847 responses, 4,426 segments):
``index`` (a string, unique), ``domain`` (``math``, ``reasoning``, ``science``, ``wk`` = world
knowledge, ``writing_rec`` = writing and recommendation), ``prompt``, ``response``,
``segmented_response`` (the response cut into segments by the FELM authors), ``labels`` (one boolean
per segment, **true when the segment is factually correct**), ``comment``, ``type`` (error types),
``ref`` (reference URLs) and ``ref_contents`` (the retrieved reference text: a string or a list of
strings, empty for math and reasoning).

* id ``<domain>:<index>``; subset = the domain (or the label the task gives the file); the cluster
  is the response itself, so intervals resample responses.
* ``reference``: the reference texts joined by blank lines and cut to ``options.max_reference_chars``
  characters (the evidence the ``felm_reference`` prompt shows; 0 keeps none).
* ``meta``: ``source``, ``ref`` (URLs), ``type`` and ``comment`` (annotator notes), not hashed.

The data is CC BY-NC-SA 4.0: rmbench never ships it; it is read from the data directory.
"""

from __future__ import annotations

from typing import Any

from rmbench.data.converters import ConvertContext
from rmbench.data.converters.fields import read_id, read_text, read_text_list
from rmbench.data.sources import Record
from rmbench.datatypes import SegmentExample
from rmbench.errors import UserError

OPTIONS = {"max_reference_chars": 2000}


def _options(ctx: ConvertContext) -> dict[str, Any]:
    unknown = sorted(set(ctx.options) - set(OPTIONS))
    if unknown:
        raise UserError(f"task '{ctx.spec.name}': unknown option(s) {unknown} for the felm converter",
                        hint=f"allowed: {', '.join(OPTIONS)}")
    out = {**OPTIONS, **ctx.options}
    if not isinstance(out["max_reference_chars"], int) or out["max_reference_chars"] < 0:
        raise UserError(f"task '{ctx.spec.name}': options.max_reference_chars must be an integer >= 0")
    return out


def reference_text(value: Any, limit: int) -> str:
    """Reference contents (a string or a list of strings) joined by blank lines, cut to ``limit`` chars.

    >>> reference_text(["first page", "", "second page"], 100)
    'first page\\n\\nsecond page'
    >>> reference_text("abcdef", 3)
    'abc'
    """
    if value is None:
        return ""
    parts = [value] if isinstance(value, str) else [str(v) for v in value if v is not None]
    text = "\n\n".join(p.strip() for p in parts if p and p.strip())
    return text[:limit]


def convert(record: Record, ctx: ConvertContext) -> SegmentExample:
    """One FELM record -> one example (see the module docstring)."""
    opts = _options(ctx)
    index = read_id(ctx, record, "index")
    domain = read_text(ctx, record, "domain")
    segments = read_text_list(ctx, record, "segmented_response")
    labels = ctx.get(record, "labels", types=(list,))
    if not all(isinstance(x, bool) for x in labels):
        raise ctx.fail(record, "expected a list of booleans (true = factually correct)", field="labels")
    if len(labels) != len(segments):
        raise ctx.fail(record, f"{len(labels)} labels for {len(segments)} segments", field="labels")
    meta = {k: record.data.get(k) for k in ("source", "ref", "type", "comment") if record.data.get(k) not in (None, "", [])}
    return SegmentExample(
        id=f"{domain}:{index}",
        subset=record.subset or domain,
        prompt=({"role": "user", "content": read_text(ctx, record, "prompt")},),
        segments=tuple(segments),
        labels=tuple(labels),
        reference=reference_text(record.data.get("ref_contents"), opts["max_reference_chars"]),
        meta=meta,
    )
