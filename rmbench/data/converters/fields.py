"""Generic converter: build examples from the columns a task names in its ``fields:`` mapping.

Used whenever a task has no ``converter:``. ``fields`` maps a *canonical* name to a column of the
upstream records; a canonical name that is not mapped is looked up under its own name, so a file
whose columns are already called ``prompt``/``chosen``/``rejected`` needs no mapping at all.

Pairwise tasks accept two layouts:

* **preference**: ``prompt``, ``chosen``, ``rejected``;
* **label** (chosen when ``fields`` maps any of these or ``options.label_values`` is set):
  ``prompt``, ``response_a``, ``response_b`` and ``label``, where ``options.label_values``
  maps each label value to ``"a"`` (response A preferred), ``"b"`` or ``"skip"`` (record skipped and
  counted, e.g. human ties). Without the option, ``1``/``A``/``A>B`` mean A and ``2``/``B``/``B>A``
  mean B.

Whole conversations (either pairwise layout): ``options.format`` says how each side is stored:
``text`` (default: a response string, with a ``prompt`` column), ``messages`` (a list of chat
messages ending with the assistant's response), ``hh`` (an Anthropic HH transcript,
``"\n\nHuman: ...\n\nAssistant: ..."``) or ``transcript`` (role markers from ``options.markers``).
The shared prompt is the longest common prefix of the two conversations' earlier turns; turns where
they differ are kept per side (see :mod:`rmbench.data.converters.conversation`). A ``prompt`` column is
then optional: when mapped or present it is put before each conversation that does not start with it.

Multi-response tasks use ``prompt``, ``correct`` and ``incorrect`` (lists of strings) and
``options.scoring`` (default ``best_of_n``).

Stepwise tasks use ``question``, ``steps`` (a list of strings) and ``first_error``, with
``options.first_error_base`` and ``options.no_error_value`` (see :mod:`rmbench.data.converters.fields_steps`).

Optional in every layout: ``id`` (default: the row number, prefixed by the subset label or file name
when a task reads several files), ``subset`` (default: the subset label of the file, else ``"all"``),
``cluster`` (default: the id). ``options.meta_fields`` lists extra columns copied into ``meta``.

Text policy: responses must be strings; an empty string is legal data (some benchmarks contain
empty responses), ``None`` or a missing column is an error naming file, line and field. A prompt is a
string or a non-empty list of ``{"role", "content"}`` messages.

The small readers below (:func:`read_text`, :func:`read_prompt`, :func:`read_text_list`,
:func:`read_id`) are shared by the dataset-specific converters.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rmbench.data.converters import ConvertContext
from rmbench.data.converters import conversation as conv
from rmbench.data.converters.fields_steps import build_steps, step_options
from rmbench.data.sources import Record
from rmbench.data.task import TaskSpec
from rmbench.datatypes import MultiResponseExample, PairwiseExample, StepwiseExample
from rmbench.errors import UserError

_COMMON = ("id", "prompt", "subset", "cluster")
LAYOUTS: dict[str, tuple[str, ...]] = {
    "preference": (*_COMMON, "chosen", "rejected"),
    "label": (*_COMMON, "response_a", "response_b", "label"),
    "multi_response": (*_COMMON, "correct", "incorrect"),
    "stepwise": ("id", "question", "subset", "cluster", "steps", "first_error"),
}
_PAIRWISE_OPTIONS = ("format", "markers")
OPTIONS_BY_LAYOUT: dict[str, tuple[str, ...]] = {
    "preference": ("meta_fields", *_PAIRWISE_OPTIONS),
    "label": ("label_values", "meta_fields", *_PAIRWISE_OPTIONS),
    "multi_response": ("meta_fields", "scoring"),
    "stepwise": ("meta_fields", "first_error_base", "no_error_value"),
}
OPTIONS = tuple(dict.fromkeys(o for opts in OPTIONS_BY_LAYOUT.values() for o in opts))
_ALIASES = {"stepwise": {"prompt": "question"}}  # canonical names accepted under another layout's name
DEFAULT_LABEL_VALUES: dict[str, str] = {
    "1": "a", "2": "b", "a": "a", "b": "b", "A": "a", "B": "b", "A>B": "a", "B>A": "b",
}  # fmt: skip
_VERDICTS = ("a", "b", "skip")
_SCORINGS = ("best_of_n", "style_matrix", "ties")


# ------------------------------------------------------------------------------ shared readers


def read_text(ctx: ConvertContext, record: Record, column: str) -> str:
    """A string value (possibly empty); ``None``, missing or non-string is a :class:`RecordError`."""
    value: str = ctx.get(record, column, types=(str,))
    return value


def read_prompt(ctx: ConvertContext, record: Record, column: str) -> tuple[dict[str, str], ...]:
    """A prompt as chat messages: a string (one user turn) or a non-empty list of
    ``{"role": str, "content": str}`` messages."""
    value = ctx.get(record, column, types=(str, list))
    if isinstance(value, str):
        return ({"role": "user", "content": value},)
    if not value:
        raise ctx.fail(record, "empty list of chat messages", field=column)
    messages = []
    for i, msg in enumerate(value):
        if not (
            isinstance(msg, Mapping)
            and isinstance(msg.get("role"), str)
            and isinstance(msg.get("content"), str)
        ):
            raise ctx.fail(
                record,
                f"message {i} is not a {{'role': str, 'content': str}} mapping: {msg!r:.80}",
                field=column,
            )
        messages.append({"role": msg["role"], "content": msg["content"]})
    return tuple(messages)


def read_text_list(
    ctx: ConvertContext, record: Record, column: str, *, length: int | None = None, min_length: int = 1
) -> list[str]:
    """A list of strings (each may be empty), of exactly ``length`` items or at least ``min_length``."""
    value = ctx.get(record, column, types=(list, tuple))
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise ctx.fail(record, f"item {i} should be a string, got {type(item).__name__}", field=column)
    if length is not None and len(value) != length:
        raise ctx.fail(record, f"expected {length} items, got {len(value)}", field=column)
    if len(value) < min_length:
        raise ctx.fail(record, f"expected at least {min_length} item(s), got {len(value)}", field=column)
    return list(value)


def read_id(ctx: ConvertContext, record: Record, column: str) -> str:
    """An id-like value (id, subset, cluster) from a string or integer column, as a non-empty string.

    Integral floats (``3.0``, as some parquet writers store integer columns with gaps) become ``"3"``.
    """
    value = ctx.get(record, column, types=(str, int, float))
    if isinstance(value, bool):
        raise ctx.fail(record, "expected a string or an integer, got bool", field=column)
    if isinstance(value, float):
        if not value.is_integer():
            raise ctx.fail(record, f"expected a string or an integer, got {value!r}", field=column)
        value = int(value)
    text = str(value).strip()
    if not text:
        raise ctx.fail(record, "empty value", field=column)
    return text


def row_id(record: Record, spec: TaskSpec) -> str:
    """Default id: the record's row number, prefixed so that ids stay unique across several files."""
    if record.subset:
        return f"{record.subset}:{record.line}"
    if _file_count(spec) > 1:
        return f"{Path(record.file).stem}:{record.line}"
    return str(record.line)


def _file_count(spec: TaskSpec) -> int:
    local = spec.source.local or spec.source.bundled
    if local is None:
        return 1
    if isinstance(local.files, list):
        return len(local.files)
    return sum(len(v) if isinstance(v, list) else 1 for v in local.files.values())


# ---------------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class _Plan:
    """The validated mapping of one task, computed once and kept in ``ctx.state``."""

    layout: str
    columns: dict[str, str]  # canonical name -> column
    mapped: frozenset[str]  # canonical names the task maps explicitly
    label_values: dict[str, str]
    meta_fields: tuple[str, ...]
    scoring: str
    format: str = "text"
    markers: dict[str, str] | None = None
    steps: Any = None  # stepwise: a fields_steps.StepOptions


def _plan(ctx: ConvertContext) -> _Plan:
    cached = ctx.state.get("fields_plan")
    if isinstance(cached, _Plan):
        return cached
    spec = ctx.spec
    where = f"task '{spec.name}'"
    if spec.example_kind == "pairwise":
        label_keys = {"response_a", "response_b", "label"}
        labelled = bool(label_keys & set(spec.fields)) or "label_values" in ctx.options
        layout = "label" if labelled else "preference"
        if layout == "label" and {"chosen", "rejected"} & set(spec.fields):
            raise UserError(
                f"{where}: fields mix the preference layout (chosen/rejected) with the label layout "
                "(response_a/response_b/label)",
                hint="map either chosen + rejected, or response_a + response_b + label",
            )
    elif spec.example_kind in ("multi_response", "stepwise"):
        layout = spec.example_kind
    else:
        raise UserError(
            f"{where}: the generic field mapping handles pairwise, multi_response and stepwise tasks, "
            f"not '{spec.example_kind}'",
            hint="write a converter module and name it with 'converter:'",
        )
    allowed = LAYOUTS[layout]
    aliases = _ALIASES.get(layout, {})
    fields = {aliases.get(k, k): v for k, v in spec.fields.items()}
    _check_names(where, "field", {k: v for k, v in spec.fields.items() if k not in aliases}, allowed, layout,
                 sorted({k for keys in LAYOUTS.values() for k in keys}))
    _check_names(where, "option", dict(ctx.options), OPTIONS_BY_LAYOUT[layout], layout, OPTIONS)
    fmt = ctx.options.get("format", "text")
    if fmt not in conv.FORMATS:
        raise UserError(f"{where}: options.format is {fmt!r}; use one of {', '.join(conv.FORMATS)}")
    try:
        markers = conv.markers_for(fmt, ctx.options.get("markers")) if fmt in ("hh", "transcript") else None
    except ValueError as exc:
        raise UserError(f"{where}: {exc}") from None
    if markers is None and "markers" in ctx.options:
        raise UserError(f"{where}: options.markers needs options.format: transcript")
    plan = _Plan(
        layout=layout,
        columns={k: fields.get(k, k) for k in allowed},
        mapped=frozenset(fields),
        label_values=_label_values(ctx.options.get("label_values"), where),
        meta_fields=_meta_fields(ctx.options.get("meta_fields"), where),
        scoring=_scoring(ctx.options.get("scoring"), where),
        format=fmt,
        markers=markers,
        steps=step_options(ctx.options, where) if layout == "stepwise" else None,
    )
    ctx.state["fields_plan"] = plan
    return plan


def _check_names(
    where: str, what: str, given: Mapping[str, Any], allowed: tuple[str, ...], layout: str,
    every: tuple[str, ...] | list[str],
) -> None:
    """Refuse a field or option the layout does not know, with a did-you-mean or the allowed names."""
    for key, value in given.items():
        if key in allowed:
            continue
        close = difflib.get_close_matches(key, list(every), n=1)
        if key in OPTIONS and what == "field":
            hint = f"'{key}' is an option: options.{key} in YAML, --option {key}={value} on the command line"
        elif close and close[0] in allowed:
            hint = f"did you mean '{close[0]}'?"
        else:
            hint = f"allowed for the {layout} layout: {', '.join(allowed)}"
        raise UserError(f"{where}: unknown {what} '{key}' for the {layout} layout", hint=hint)


def _label_values(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return dict(DEFAULT_LABEL_VALUES)
    if not isinstance(value, Mapping) or not value:
        raise UserError(f"{where}: options.label_values must map label values to 'a', 'b' or 'skip'")
    out = {}
    for raw, verdict in value.items():
        if verdict not in _VERDICTS:
            raise UserError(
                f"{where}: options.label_values['{raw}'] is {verdict!r}; use 'a', 'b' or 'skip'",
            )
        out[_label_key(raw)] = verdict
    return out


def _meta_fields(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UserError(f"{where}: options.meta_fields must be a list of column names")
    return tuple(value)


def _scoring(value: Any, where: str) -> str:
    if value is None:
        return "best_of_n"
    if value not in _SCORINGS:
        raise UserError(f"{where}: options.scoring is {value!r}; use one of {', '.join(_SCORINGS)}")
    return str(value)


def _label_key(value: Any) -> str:
    """Normalise a label value for lookup: ints, integral floats and strings compare as text."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


# --------------------------------------------------------------------------------- converting


def _optional(ctx: ConvertContext, record: Record, plan: _Plan, key: str) -> str | None:
    """An optional string field: required when mapped explicitly, used when present otherwise."""
    column = plan.columns[key]
    if key not in plan.mapped and record.data.get(column) in (None, ""):
        return None
    value = read_id(ctx, record, column)
    return value


def _meta_value(ctx: ConvertContext, record: Record, column: str) -> Any:
    """A column copied into ``meta`` as it is (``None`` included); a missing column is an error."""
    if column not in record.data:
        ctx.get(record, column)  # raises the usual missing-field error
    return record.data[column]


def _common(ctx: ConvertContext, record: Record, plan: _Plan) -> dict[str, Any]:
    ident = _optional(ctx, record, plan, "id") or row_id(record, ctx.spec)
    subset = _optional(ctx, record, plan, "subset") or record.subset or "all"
    cluster = _optional(ctx, record, plan, "cluster") or ""
    meta = {name: _meta_value(ctx, record, name) for name in plan.meta_fields}
    prompt_key = "question" if plan.layout == "stepwise" else "prompt"
    if plan.format == "text":
        prompt = read_prompt(ctx, record, plan.columns[prompt_key])
    elif "prompt" in plan.mapped or record.data.get(plan.columns["prompt"]) is not None:
        prompt = read_prompt(ctx, record, plan.columns["prompt"])
    else:
        prompt = ()
    return {"id": ident, "subset": subset, "cluster": cluster, "prompt": prompt, "meta": meta}


def _side(ctx: ConvertContext, record: Record, plan: _Plan, column: str) -> conv.Messages:
    """One side of a comparison stored as a whole conversation (``options.format`` not ``text``)."""
    value = ctx.get(record, column, types=(list,) if plan.format == "messages" else (str,))
    try:
        if plan.format == "messages":
            return conv.check_messages(value)
        assert plan.markers is not None
        return conv.parse_transcript(value, plan.markers)
    except ValueError as exc:
        raise ctx.fail(record, str(exc), field=column) from None


def _pair(
    ctx: ConvertContext, record: Record, plan: _Plan, common: dict[str, Any], columns: tuple[str, str]
) -> PairwiseExample:
    """A pairwise example from the chosen and rejected columns, plain responses or conversations."""
    if plan.format == "text":
        chosen, rejected = (read_text(ctx, record, c) for c in columns)
        return PairwiseExample(**common, chosen=chosen, rejected=rejected)
    prompt = common.pop("prompt")
    chosen_turns, rejected_turns = (conv.with_prompt(prompt, _side(ctx, record, plan, c)) for c in columns)
    try:
        sides = conv.split_sides(chosen_turns, rejected_turns)
    except ValueError as exc:
        raise ctx.fail(record, str(exc), field=f"{columns[0]}/{columns[1]}") from None
    return PairwiseExample(
        **common, prompt=sides.prompt, chosen=sides.chosen, rejected=sides.rejected,
        chosen_context=sides.chosen_context, rejected_context=sides.rejected_context,
    )


def convert(record: Record, ctx: ConvertContext) -> PairwiseExample | MultiResponseExample | StepwiseExample | None:
    """Build one example from ``record`` using the task's ``fields`` mapping (see the module docs)."""
    plan = _plan(ctx)
    if plan.layout == "stepwise":
        steps = read_text_list(ctx, record, plan.columns["steps"])
        return build_steps(ctx, record, steps, plan.columns, plan.steps, _common(ctx, record, plan))
    if plan.layout == "multi_response":
        return MultiResponseExample(
            **_common(ctx, record, plan),
            correct=tuple(read_text_list(ctx, record, plan.columns["correct"])),
            incorrect=tuple(read_text_list(ctx, record, plan.columns["incorrect"])),
            scoring=plan.scoring,  # type: ignore[arg-type]
        )
    if plan.layout == "preference":
        return _pair(ctx, record, plan, _common(ctx, record, plan), (plan.columns["chosen"], plan.columns["rejected"]))
    label_column = plan.columns["label"]
    raw = ctx.get(record, label_column, types=(str, int, float))
    if isinstance(raw, bool):
        raise ctx.fail(record, "expected a label value, got bool", field=label_column)
    verdict = plan.label_values.get(_label_key(raw))
    if verdict is None:
        known = ", ".join(repr(k) for k in plan.label_values)
        raise ctx.fail(
            record,
            f"label {raw!r} is not in options.label_values (known: {known})",
            field=label_column,
        )
    if verdict == "skip":
        return None
    common = _common(ctx, record, plan)
    columns = (plan.columns["response_a"], plan.columns["response_b"])
    common["meta"] = {**common["meta"], "label": raw, "chosen_position": verdict}
    return _pair(ctx, record, plan, common, columns if verdict == "a" else columns[::-1])
