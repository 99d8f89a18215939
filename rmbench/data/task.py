"""Task specifications: one versioned YAML file per task, validated on load, discovered by name.

Where tasks come from, first match wins:

1. a path to a ``.yaml`` file given as the task name;
2. user folders: ``--tasks-dir`` and the ``RMBENCH_TASKS_DIR`` environment variable
   (several folders separated by ``os.pathsep``);
3. installed packages: the ``rmbench.tasks`` entry-point group, each entry resolving to a folder
   (a ``str``/``Path``, or a zero-argument callable returning one);
4. the built-in tasks: the repository's ``tasks/`` folder (a source checkout or an editable install),
   else the copy bundled into an installed wheel (``rmbench/_builtin/tasks``, see ``setup.py``).

Unknown keys are rejected, and errors name the file, the key and its line. The models of what a
task file may say are in :mod:`rmbench.data.task_spec` (re-exported here).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ValidationError

from rmbench.data.task_spec import AggregateSpec, HubSource, LocalSource, ScoringSpec, SourceSpec, TaskSpec
from rmbench.errors import UserError

__all__ = ["BUILTIN_TASKS_DIR", "AggregateSpec", "HubSource", "LoadedTask", "LocalSource", "ScoringSpec", "SourceSpec",
           "TaskSpec", "builtin_dir", "discover_tasks", "load_task", "parse_task_file", "task_dirs"]


def builtin_dir(name: Literal["tasks", "prompts"]) -> Path:
    """The built-in ``tasks/`` or ``prompts/`` folder.

    In a source checkout (or an editable install) that is the repository's top-level folder, recognised
    by the ``pyproject.toml`` next to it (so an unrelated ``site-packages/tasks`` is never picked up);
    in an installed wheel it is the copy ``setup.py`` bundles as ``rmbench/_builtin/<name>``.
    """
    package = Path(__file__).resolve().parents[1]  # rmbench/
    repo = package.parent
    if (repo / "pyproject.toml").is_file() and (repo / name).is_dir():
        return repo / name
    return package / "_builtin" / name


BUILTIN_TASKS_DIR = builtin_dir("tasks")
ENTRY_POINT_GROUP = "rmbench.tasks"


@dataclass(frozen=True)
class LoadedTask:
    """A validated spec plus where it came from (for messages and the run summary)."""

    spec: TaskSpec
    path: Path
    origin: str  # "builtin" | "user" | "entry-point:<name>" | "file"

    @cached_property
    def spec_hash(self) -> str:
        import hashlib

        return hashlib.sha256(self.path.read_bytes()).hexdigest()[:16]


# --------------------------------------------------------------------------------------- loading


def _yaml_lines(text: str) -> dict[tuple[str, ...], int]:
    """Map each key path in a YAML document to its 1-based line, for error messages."""
    lines: dict[tuple[str, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                p = (*path, str(key.value))
                lines[p] = key.start_mark.line + 1
                walk(value, p)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                p = (*path, str(i))
                lines[p] = item.start_mark.line + 1
                walk(item, p)

    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return lines
    if root is not None:
        lines[()] = root.start_mark.line + 1  # where a missing top-level key is reported
        walk(root, ())
    return lines


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys a model accepts at ``loc`` (for did-you-mean on unknown keys)."""
    current: Any = model
    for part in loc[:-1]:
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return []
        ann = fields[part].annotation
        candidates = [a for a in getattr(ann, "__args__", (ann,)) if isinstance(a, type) and issubclass(a, BaseModel)]
        if not candidates:
            return []
        current = candidates[0]
    return list(getattr(current, "model_fields", {}))


def parse_task_file(path: Path, origin: str = "file", overrides: Mapping[str, Any] | None = None) -> LoadedTask:
    """Read and validate one task YAML file; raise :class:`UserError` naming file, key and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: cannot read task file ({exc.strerror})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise UserError(f"{where}: invalid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(raw, dict):
        raise UserError(f"{path}: a task file must be a YAML mapping of keys to values")
    if overrides:
        raw = _deep_merge(raw, overrides)
    try:
        spec = TaskSpec.model_validate(raw)
    except ValidationError as exc:
        lines = _yaml_lines(text)
        msgs = []
        for err in exc.errors():
            loc = tuple(str(p) for p in err["loc"])
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                allowed = _allowed_keys(TaskSpec, err["loc"])
                close = difflib.get_close_matches(loc[-1], allowed, n=1)
                msg = "unknown key" + (f" (did you mean '{close[0]}'?)" if close else f"; allowed: {', '.join(allowed)}")
            msgs.append(f"{_where(path, lines, loc, overrides)}: key '{'.'.join(loc)}': {msg}")
        raise UserError("invalid task file\n  " + "\n  ".join(msgs)) from None
    from rmbench.data.task_checks import check_task

    problems = check_task(spec, path)
    if problems:
        lines = _yaml_lines(text)
        msgs = [f"{_where(path, lines, p.loc, overrides)}: {p.message}" for p in problems]
        raise UserError("invalid task file\n  " + "\n  ".join(msgs)) from None
    spec._folder = path.resolve().parent
    return LoadedTask(spec=spec, path=path, origin=origin)


def _override_at(overrides: Mapping[str, Any] | None, loc: tuple[str, ...]) -> str | None:
    """``--set KEY=VALUE`` for the override that set the value at ``loc``, if one did.

    >>> _override_at({"scoring": {"primary_metric": "acc"}}, ("scoring", "primary_metric"))
    '--set scoring.primary_metric=acc'
    >>> _override_at({"source": {"local": {"files": ["a.jsonl"]}}}, ("source", "local", "files", "0"))
    '--set source.local.files=["a.jsonl"]'
    >>> _override_at({"fields": {"prompt": "q"}}, ("scoring", "primary_metric")) is None
    True
    """
    import json

    node: Any = overrides
    for depth, part in enumerate(loc):
        if not isinstance(node, Mapping):  # loc is inside a value given whole (an item of a list)
            return f"--set {'.'.join(loc[:depth])}={json.dumps(node, ensure_ascii=False)}" if depth else None
        if part not in node:
            return None
        node = node[part]
    if isinstance(node, Mapping):  # a section merged with the file's keys: not the override alone
        return None
    value = node if isinstance(node, str) else json.dumps(node, ensure_ascii=False)
    return f"--set {'.'.join(loc)}={value}"


def _where(path: Path, lines: Mapping[tuple[str, ...], int], loc: tuple[str, ...], overrides: Mapping[str, Any] | None) -> str:
    """``file:line`` of the key at ``loc`` (or its nearest parent), or the override that set it."""
    label = _override_at(overrides, loc)
    if label is not None:
        return f"{label} (overriding {path})"
    line = next((lines[loc[:i]] for i in range(len(loc), -1, -1) if loc[:i] in lines), None)
    return f"{path}:{line}" if line else str(path)


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in override.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


# ------------------------------------------------------------------------------------- discovery


def task_dirs(extra: Iterable[Path] = ()) -> list[tuple[Path, str]]:
    """Folders searched for task files, in priority order, each with its origin label."""
    dirs: list[tuple[Path, str]] = [(Path(p), "user") for p in extra]
    env = os.environ.get("RMBENCH_TASKS_DIR")
    if env:
        dirs += [(Path(p), "user") for p in env.split(os.pathsep) if p]
    dirs += _entry_point_dirs()
    dirs.append((BUILTIN_TASKS_DIR, "builtin"))
    return dirs


def _entry_point_dirs() -> list[tuple[Path, str]]:
    from importlib.metadata import entry_points

    out: list[tuple[Path, str]] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            target = ep.load()
            folder = target() if callable(target) else target
        except Exception as exc:  # a broken plugin must not break every command
            raise UserError(f"task plugin '{ep.name}' ({ep.value}) failed to load: {exc}") from None
        out.append((Path(folder), f"entry-point:{ep.name}"))
    return out


def discover_tasks(extra_dirs: Iterable[Path] = ()) -> dict[str, tuple[Path, str]]:
    """Map task name -> (file, origin). Earlier folders shadow later ones."""
    found: dict[str, tuple[Path, str]] = {}
    for folder, origin in task_dirs(extra_dirs):
        if not folder.is_dir():
            continue
        for f in sorted(folder.glob("*.yaml")):
            found.setdefault(f.stem, (f, origin))
    return found


def load_task(
    name_or_path: str,
    extra_dirs: Iterable[Path] = (),
    overrides: Mapping[str, Any] | None = None,
) -> LoadedTask:
    """Find a task by name (or load a YAML path) and validate it."""
    p = Path(name_or_path)
    if p.suffix in {".yaml", ".yml"}:
        if not p.is_file():
            raise UserError(f"{p}: task file does not exist")
        return parse_task_file(p, "file", overrides)
    tasks = discover_tasks(extra_dirs)
    if name_or_path not in tasks:
        close = difflib.get_close_matches(name_or_path, list(tasks), n=3)
        hint = f"did you mean {', '.join(repr(c) for c in close)}?" if close else "run 'rmbench list' to see the tasks"
        raise UserError(f"unknown task '{name_or_path}'", hint=hint)
    path, origin = tasks[name_or_path]
    return parse_task_file(path, origin, overrides)  # checks that the file name is the task's name
