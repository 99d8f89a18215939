"""The stepwise layout of the generic field mapping: a question, its steps, the first wrong step.

Columns (``fields:`` maps them; unmapped ones are read under their own name):

* ``question``: the problem (a string or a list of chat messages; ``prompt`` is accepted as a synonym
  in ``fields``);
* ``steps``: a non-empty list of strings;
* ``first_error``: the index of the first wrong step, or a "no mistake" value.

Options (under ``options:``), recorded with the task in the run's ``run.json``:

* ``first_error_base``: ``0`` (default; the first step is 0, as ProcessBench) or ``1``;
* ``no_error_value``: the value(s) meaning "every step is correct"; one value or a list, default
  ``[-1, null]``. A value that is neither a no-error value nor a step index is an error naming the
  file, line and field. An index may be an integer, an integral float (``2.0``) or a string of digits.

Examples are :class:`~rmbench.datatypes.StepwiseExample` with a 0-based ``first_error`` (``None``
for "no mistake").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rmbench.data.converters import ConvertContext
from rmbench.data.sources import Record
from rmbench.datatypes import StepwiseExample
from rmbench.errors import UserError

DEFAULT_NO_ERROR: tuple[int | None, ...] = (-1, None)


@dataclass(frozen=True)
class StepOptions:
    first_error_base: int = 0
    no_error_values: tuple[int | str | None, ...] = DEFAULT_NO_ERROR


def _normalise(value: Any) -> int | str | None:
    """An index-like value as an int when it is one (``2``, ``2.0``, ``"2"``), else as it is."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return value if value is None or isinstance(value, int) else str(value)


def step_options(options: Mapping[str, Any], where: str) -> StepOptions:
    """Validated ``first_error_base`` and ``no_error_value`` options."""
    base = options.get("first_error_base", 0)
    if isinstance(base, bool) or base not in (0, 1):
        raise UserError(f"{where}: options.first_error_base is {base!r}; use 0 or 1")
    raw = options.get("no_error_value", list(DEFAULT_NO_ERROR))
    values = tuple(_normalise(v) for v in (raw if isinstance(raw, list) else [raw]))
    clash = [v for v in values if isinstance(v, int) and v >= base]
    if clash:
        raise UserError(
            f"{where}: options.no_error_value {clash[0]!r} is also a step index when first_error_base is {base}",
            hint="use a value that cannot index a step (e.g. -1, null, or 0 with first_error_base: 1)",
        )
    return StepOptions(first_error_base=int(base), no_error_values=values)


def read_first_error(
    ctx: ConvertContext, record: Record, column: str, n_steps: int, opts: StepOptions
) -> int | None:
    """The 0-based first wrong step, or ``None`` for a no-error value (see the module docstring)."""
    if column not in record.data:
        ctx.get(record, column)  # raises the usual missing-field error
    value = _normalise(record.data[column])
    if value in opts.no_error_values:
        return None
    base = opts.first_error_base
    if not isinstance(value, int) or not base <= value < n_steps + base:
        known = ", ".join("null" if v is None else repr(v) for v in opts.no_error_values)
        raise ctx.fail(
            record,
            f"{record.data[column]!r} is neither a step index ({base}..{n_steps - 1 + base}, "
            f"first_error_base {base}) nor a no-error value ({known})",
            field=column,
        )
    return value - base


def build_steps(
    ctx: ConvertContext, record: Record, steps: list[str], columns: Mapping[str, str], opts: StepOptions,
    common: dict[str, Any],
) -> StepwiseExample:
    """One stepwise example from a record and its ``steps`` (read by the caller); ``common`` holds id,
    subset, cluster, prompt and meta."""
    first_error = read_first_error(ctx, record, columns["first_error"], len(steps), opts)
    return StepwiseExample(**common, steps=tuple(steps), first_error=first_error)
