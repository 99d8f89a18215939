"""The explicit label mapping of a claim-verification task: upstream labels -> the task's classes.

A claim task's YAML names its classes and how every upstream label maps to one of them, e.g. FActScore::

    options:
      classes: [supported, unsupported, undecidable]
      label_map: {S: supported, NS: unsupported, IR: undecidable}

Upstream labels are compared as lower-case strings (JSON ``true`` reads as ``"true"``). A label mapped
to ``skip`` drops the claim (counted as a skipped record); a label missing from the map is an error
naming the file, line and field, never a silent default. The mapping is part of the task spec, so it
is recorded in every run summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rmbench.data.converters import ConvertContext
from rmbench.data.sources import Record
from rmbench.errors import UserError

SKIP = "skip"
DEFAULT_CLASSES = ("supported", "unsupported", "undecidable")


@dataclass(frozen=True)
class LabelScheme:
    classes: tuple[str, ...]
    mapping: Mapping[str, str]

    def map(self, value: Any, record: Record, field: str, ctx: ConvertContext) -> str | None:
        """The class of an upstream label; None when the task maps it to ``skip``."""
        key = str(value).strip().lower()
        if key not in self.mapping:
            raise ctx.fail(record, f"label {value!r} is not in the task's label_map ({', '.join(self.mapping)})", field)
        target = self.mapping[key]
        return None if target == SKIP else target


def label_scheme(ctx: ConvertContext, allowed_options: tuple[str, ...] = ()) -> LabelScheme:
    """The task's ``classes`` and ``label_map`` options, checked once and cached in ``ctx.state``."""
    if "label_scheme" in ctx.state:
        return ctx.state["label_scheme"]
    known = ("classes", "label_map", "nli_label_map", *allowed_options)
    unknown = sorted(set(ctx.options) - set(known))
    if unknown:
        raise UserError(f"task '{ctx.spec.name}': unknown option(s) {unknown}", hint=f"allowed: {', '.join(known)}")
    classes = tuple(str(c) for c in ctx.options.get("classes", DEFAULT_CLASSES))
    if len(classes) < 2 or len(set(classes)) != len(classes) or not all(c.isidentifier() for c in classes):
        raise UserError(f"task '{ctx.spec.name}': options.classes must be 2 or more distinct words, got {list(classes)}")
    raw = ctx.options.get("label_map")
    if not isinstance(raw, Mapping) or not raw:
        raise UserError(f"task '{ctx.spec.name}': options.label_map (upstream label -> class) is required")
    mapping = {str(k).strip().lower(): str(v) for k, v in raw.items()}
    bad = sorted({v for v in mapping.values() if v not in classes and v != SKIP})
    if bad:
        raise UserError(f"task '{ctx.spec.name}': label_map targets {bad} are not classes {list(classes)} or 'skip'")
    scheme = LabelScheme(classes, mapping)
    ctx.state["label_scheme"] = scheme
    return scheme
