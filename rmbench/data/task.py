"""Task specifications: one versioned YAML file per task, validated on load, discovered by name.

Where tasks come from, first match wins:

1. a path to a ``.yaml`` file given as the task name;
2. user folders: ``--tasks-dir`` and the ``RMBENCH_TASKS_DIR`` environment variable
   (several folders separated by ``os.pathsep``);
3. installed packages: the ``rmbench.tasks`` entry-point group, each entry resolving to a folder
   (a ``str``/``Path``, or a zero-argument callable returning one);
4. the built-in tasks: the repository's ``tasks/`` folder (a source checkout or an editable install),
   else the copy bundled into an installed wheel (``rmbench/_builtin/tasks``, see ``setup.py``).

Unknown keys are rejected, and errors name the file, the key and its line.
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
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from rmbench.errors import UserError


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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HubSource(_Strict):
    """A Hugging Face dataset, loaded with ``datasets.load_dataset`` (the path for users with Hub access)."""

    path: str
    revision: str = Field(description="commit sha or tag; pin it so results are reproducible")
    name: str | None = None
    split: str = "test"
    # subset label -> {"name": config, "split": split}; when set, each subset is loaded separately.
    subsets: dict[str, dict[str, str]] | None = None


class LocalSource(_Strict):
    """Upstream files under the data directory (``--data-dir`` / ``RMBENCH_DATA_DIR``)."""

    # subset label -> relative path (or list of paths); or a plain list when subsets come from a field.
    files: dict[str, str | list[str]] | list[str]
    format: Literal["json", "jsonl", "csv", "parquet"] | None = None
    # Text encoding of json/jsonl/csv files (default UTF-8; a byte-order mark always wins), e.g. latin-1.
    encoding: str | None = None

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, v: str | None) -> str | None:
        from rmbench.data.files import check_encoding

        return None if v is None else check_encoding(v)


class SourceSpec(_Strict):
    hub: HubSource | None = None
    local: LocalSource | None = None
    # Files shipped inside the rmbench package (permissively licensed samples), relative to rmbench/samples.
    bundled: LocalSource | None = None


class AggregateSpec(_Strict):
    """A derived metric computed from per-item metrics (see :mod:`rmbench.results.aggregates`)."""

    kind: Literal[
        "harmonic_mean", "ratio", "f1", "precision", "recall", "balanced_accuracy", "macro_f1", "mean_of", "auroc",
        "weighted_sum", "confusion_macro_f1", "confusion_balanced_accuracy", "confusion_kappa",
    ]
    of: list[str] = Field(min_length=1)
    # weighted_sum only: one weight per metric in 'of' (value = sum of weight * mean of metric).
    weights: list[float] | None = None

    @model_validator(mode="after")
    def _arity(self) -> AggregateSpec:
        from rmbench.results.aggregates import ARITY, check_weights

        n = ARITY[self.kind]
        if n is not None and len(self.of) != n:
            raise ValueError(f"kind '{self.kind}' takes {n} metrics in 'of', got {len(self.of)}")
        check_weights(self.kind, self.of, self.weights)
        return self


class ScoringSpec(_Strict):
    """How per-item outcomes are decided and summarised; recorded verbatim in the run summary."""

    # A tie (equal scores) counts as wrong (RewardBench's convention), half a point, or is excluded
    # from the denominator. Tie counts are always reported.
    tie_policy: Literal["wrong", "half", "exclude"] = "wrong"
    primary_metric: str = "accuracy"
    # Named groups of subsets reported as sections (e.g. RewardBench's Chat / Chat Hard / Safety).
    sections: dict[str, list[str]] = Field(default_factory=dict)
    # How a section is computed from its subsets: pooled over items, or the unweighted mean of subsets.
    section_weighting: Literal["items", "subsets"] = "items"
    # Optional subset -> weight. A section whose subsets all have one is the weighted mean of its subset
    # means (upstream RewardBench's EXAMPLE_COUNTS), with a cluster-bootstrap CI; this overrides
    # section_weighting for that section. A section may not mix weighted and unweighted subsets.
    subset_weights: dict[str, float] = Field(default_factory=dict)
    # Optional subset -> metric for sections that are a mean of subsets (section_weighting 'subsets'):
    # such a section also gets a 'score', the mean over its subsets of this metric where named and the
    # primary metric elsewhere (RewardBench 2's leaderboard: accuracy, but the Ties score for Ties).
    subset_metrics: dict[str, str] = Field(default_factory=dict)
    # Convenience headline: unweighted mean of the listed metrics (e.g. RM-Bench hard/normal/easy).
    report_metrics: list[str] = Field(default_factory=list)
    # Derived metrics (harmonic means, F1 from per-item counts, ...), bootstrapped as a whole.
    aggregates: dict[str, AggregateSpec] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _subset_weights(self) -> ScoringSpec:
        bad = {s: w for s, w in self.subset_weights.items() if not (w > 0 and w < float("inf"))}
        if bad:
            raise ValueError(f"subset_weights must be positive finite numbers, got {bad}")
        in_sections = {s for members in self.sections.values() for s in members}
        unused = sorted(set(self.subset_weights) - in_sections)
        if unused:
            raise ValueError(f"subset_weights name subsets that are in no section: {', '.join(unused)}")
        for name, members in self.sections.items():
            weighted = [s for s in members if s in self.subset_weights]
            if weighted and len(weighted) != len(members):
                missing = ", ".join(s for s in members if s not in self.subset_weights)
                raise ValueError(f"section '{name}' has subset_weights for some subsets but not for: {missing}")
        if self.subset_metrics and self.section_weighting != "subsets":
            raise ValueError("subset_metrics needs section_weighting: subsets (a section's score is a mean of subsets)")
        unused = sorted(set(self.subset_metrics) - in_sections)
        if unused:
            raise ValueError(f"subset_metrics name subsets that are in no section: {', '.join(unused)}")
        return self


class TaskSpec(_Strict):
    name: str
    version: int = Field(ge=1)
    description: str
    example_kind: Literal["pairwise", "multi_response", "pointwise", "segments", "stepwise", "claims", "rfeval",
                          "hinted", "trace"]
    source: SourceSpec
    converter: str | None = None
    fields: dict[str, str] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)
    subsets: list[str] | None = None
    scoring: ScoringSpec = Field(default_factory=ScoringSpec)
    model_kinds: list[str] = Field(default_factory=lambda: ["scalar", "likelihood", "implicit", "baseline"])
    citation: str | None = None
    homepage: str | None = None
    license: str | None = None
    notes: str | None = None
    # The folder of the task file (set by parse_task_file): a converter module there is importable.
    _folder: Path | None = PrivateAttr(default=None)

    @property
    def folder(self) -> Path | None:
        """The folder of the YAML file this spec was read from, if any."""
        return self._folder

    @field_validator("name")
    @classmethod
    def _name_ok(cls, v: str) -> str:
        # The name becomes part of paths (runs/<task>/..., leaderboards/<task>.json): a safe word only.
        from rmbench.names import name_problem

        problem = name_problem(v)
        if problem:
            raise ValueError(f"task name {problem}; use '-' instead of spaces")
        return v


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
