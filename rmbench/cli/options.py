"""Options several commands share (data folders, task overrides, output files), and the parsing of
``--data-file``, ``--field``, ``--option`` and ``--set`` into task overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from rmbench.errors import UserError

DATA_PANEL = "Data"

DataDir = Annotated[
    Optional[Path],
    typer.Option("--data-dir", help="Folder with upstream benchmark files (or RMBENCH_DATA_DIR).",
                 rich_help_panel=DATA_PANEL),
]
TasksDir = Annotated[
    Optional[list[Path]],
    typer.Option("--tasks-dir", help="Extra folder(s) of task YAML files (or RMBENCH_TASKS_DIR).",
                 rich_help_panel=DATA_PANEL),
]
DataFile = Annotated[
    Optional[list[Path]],
    typer.Option("--data-file", help="Data file(s) for a generic task (pairs, steps, judge-pairs).",
                 rich_help_panel=DATA_PANEL),
]
FieldMap = Annotated[
    Optional[list[str]],
    typer.Option("--field", help="Column mapping KEY=COLUMN, e.g. --field prompt=question.", rich_help_panel=DATA_PANEL),
]
OptionSet = Annotated[
    Optional[list[str]],
    typer.Option("--option", help="Task option KEY=VALUE (YAML value), e.g. --option format=hh, --option first_error_base=1.",
                 rich_help_panel=DATA_PANEL),
]
SetOverride = Annotated[
    Optional[list[str]],
    typer.Option("--set", help="Override a task key, e.g. --set source.local.files.math=processbench/x.json.",
                 rich_help_panel=DATA_PANEL),
]
MdOut = Annotated[Optional[Path], typer.Option("--md", help="Also write the result as Markdown to this file.")]
JsonOut = Annotated[Optional[Path], typer.Option("--json", help="Also write the result as JSON to this file.")]


def task_overrides(
    data_file: list[Path] | None, field: list[str] | None, option: list[str] | None, sets: list[str] | None
) -> dict[str, Any]:
    """The task overrides of ``--data-file``, ``--field``, ``--option`` and ``--set`` (in that order)."""
    overrides: dict[str, Any] = {}
    if data_file:
        overrides["source"] = {"local": {"files": [str(p.resolve()) for p in data_file]}}
    fields = _parse_fields(field)
    if fields:
        overrides["fields"] = fields
    _apply_sets(overrides, [f"options.{o}" for o in option or []], flag="--option")
    _apply_sets(overrides, sets)
    return overrides


def _parse_fields(fields: list[str] | None) -> dict[str, str]:
    out = {}
    for f in fields or []:
        key, sep, col = f.partition("=")
        if not sep or not key or not col:
            raise UserError(f"--field '{f}': expected KEY=COLUMN, e.g. --field prompt=question")
        out[key.strip()] = col.strip()
    return out


def _apply_sets(overrides: dict[str, Any], sets: list[str] | None, flag: str = "--set") -> None:
    """``--set a.b.c=VALUE`` -> ``overrides["a"]["b"]["c"] = VALUE`` (VALUE read as YAML: numbers, lists)."""
    import yaml

    for item in sets or []:
        key, sep, raw = item.partition("=")
        shown = item.removeprefix("options.") if flag == "--option" else item
        if not sep or not key.strip():
            raise UserError(f"{flag} '{shown}': expected KEY=VALUE, e.g. --set source.local.files.math=processbench/math.json")
        *parents, leaf = key.strip().split(".")
        node = overrides
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise UserError(f"{flag} '{shown}': '{part}' is already set to a value")
        try:
            node[leaf] = yaml.safe_load(raw) if raw.strip() else raw
        except yaml.YAMLError as exc:
            raise UserError(f"{flag} '{shown}': the value is not valid YAML ({getattr(exc, 'problem', exc)})") from None
