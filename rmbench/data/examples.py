"""From a task spec to a list of typed examples: read records, convert, check, select."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from rmbench.data.converters import ConvertContext, get_converter, get_finisher
from rmbench.data.sources import SourceInfo, read_records
from rmbench.data.task import TaskSpec
from rmbench.data.text_limits import check_record_size
from rmbench.datatypes import EXAMPLE_TYPES, Example, content_hash
from rmbench.errors import UserError


@dataclass(frozen=True)
class ExampleSet:
    examples: list[Example]
    source: SourceInfo
    records_read: int
    records_skipped: int
    fingerprint: str  # hash over every selected example's content hash, in order

    @property
    def subsets(self) -> list[str]:
        return list(dict.fromkeys(e.subset for e in self.examples))


def load_examples(
    spec: TaskSpec,
    data_dir: Path | None,
    *,
    limit: int | None = None,
    subsets: list[str] | None = None,
    use_bundled: bool = False,
) -> ExampleSet:
    """Read and convert every record; ``limit`` keeps the first N examples of each subset."""
    records, info = read_records(spec, data_dir, use_bundled)
    convert = get_converter(spec)
    finish = get_finisher(spec)
    ctx = ConvertContext(spec=spec, options=spec.options)
    expected = EXAMPLE_TYPES[spec.example_kind]
    examples: list[Example] = []
    seen: dict[str, str] = {}

    def accept(ex: Example, where: str) -> None:
        if not isinstance(ex, expected):
            raise UserError(
                f"task '{spec.name}': converter produced {type(ex).__name__}, "
                f"but the task declares example_kind '{spec.example_kind}'"
            )
        if ex.id in seen:
            raise UserError(
                f"{where}: duplicate item id '{ex.id}' (first seen at {seen[ex.id]})",
                hint="ids must be unique within a task; map a unique column with fields.id",
            )
        seen[ex.id] = where
        examples.append(ex)

    n_read = 0
    for rec in records:
        n_read += 1
        check_record_size(rec.data, rec.file, rec.line)
        try:
            out = convert(rec, ctx)
        except ValueError as exc:  # raised by example constructors on inconsistent records
            raise UserError(f"{rec.file}:{rec.line}: {exc}") from None
        if out is None:
            ctx.skipped += 1
            continue
        for ex in out if isinstance(out, list) else [out]:
            accept(ex, f"{rec.file}:{rec.line}")
    if finish is not None:
        try:
            grouped = finish(ctx)
        except ValueError as exc:
            raise UserError(f"task '{spec.name}': {exc}") from None
        for ex in grouped:
            accept(ex, f"task '{spec.name}' (grouped records)")
    if not examples:
        raise UserError(f"task '{spec.name}': no examples after conversion ({n_read} records read)")
    available = list(dict.fromkeys(e.subset for e in examples))
    if subsets:
        unknown = [s for s in subsets if s not in available]
        if unknown:
            raise UserError(f"unknown subset(s) {unknown} for task '{spec.name}'", hint=f"available: {available}")
        examples = [e for e in examples if e.subset in subsets]
    if limit is not None:
        if limit < 1:
            raise UserError("--limit must be at least 1")
        per_subset: Counter[str] = Counter()
        kept = []
        for e in examples:
            if per_subset[e.subset] < limit:
                per_subset[e.subset] += 1
                kept.append(e)
        examples = kept
    fingerprint = content_hash([e.content_hash() for e in examples])
    return ExampleSet(examples, info, n_read, ctx.skipped, fingerprint)
