"""Turn upstream records into typed examples.

A converter is a function ``convert(record: Record, ctx: ConvertContext) -> Example | list[Example] | None``
(``None`` skips the record, and the skip is counted). Name it in a task's YAML as ``converter: <name>``
for one listed in :data:`CONVERTERS` (the built-in ones, one module each in this package: a new
converter module is also a new line there), or ``converter: "package.module:function"`` for user code. A module
file next to the task's YAML is found first: ``converter: my_conv:convert`` loads
``<task folder>/my_conv.py`` (``converter: my_conv`` its ``convert``) without touching ``sys.path``.
Tasks whose records already have the right columns need no converter: ``fields:`` maps columns and
:mod:`rmbench.data.converters.fields` does the rest.

A converter that builds one example from several records (RewardMATH: ten solution rows per problem)
keeps what it has seen in ``ctx.state``, returns ``[]`` for each record (kept, not skipped), and
defines a finisher ``(ctx) -> list[Example]`` next to it, called once after the last record:
``finish`` for a module's ``convert``, ``<name>_finish`` for a converter named ``module:<name>``.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from rmbench.data.sources import Record
from rmbench.data.task import TaskSpec
from rmbench.datatypes import Example
from rmbench.errors import RecordError, UserError
from rmbench.registry import Registry

Converter = Callable[[Record, "ConvertContext"], "Example | list[Example] | None"]
Finisher = Callable[["ConvertContext"], "list[Example]"]

CONVERTERS: Registry[Converter] = Registry("converter", {
    "fields": "rmbench.data.converters.fields:convert",
    "felm": "rmbench.data.converters.felm:convert",
    "judge_robustness": "rmbench.data.converters.judge_robustness:convert",
    "llmbar": "rmbench.data.converters.llmbar:convert",
    "mr_gsm8k": "rmbench.data.converters.mr_gsm8k:convert",
    "prmbench": "rmbench.data.converters.prmbench:convert",
    "processbench": "rmbench.data.converters.processbench:convert",
    "rewardbench2": "rmbench.data.converters.rewardbench2:convert",
    "rewardmath": "rmbench.data.converters.rewardmath:convert",
    "rm_bench": "rmbench.data.converters.rm_bench:convert",
    "factbench": "rmbench.data.converters.factbench:convert",
    "factcheck_gpt": "rmbench.data.converters.factbench:factcheck_gpt",
    "factcheck_gpt_stance": "rmbench.data.converters.factbench:factcheck_gpt_stance",
    "factscore": "rmbench.data.converters.factscore:convert",
    "rfeval": "rmbench.data.converters.rfeval:convert",
    "cot_faithfulness": "rmbench.data.converters.cot_faithfulness:convert",
    "cot_traces": "rmbench.data.converters.cot_faithfulness:traces",
    "bbh_biased": "rmbench.data.converters.bbh_biased:convert",
})
"""Built-in converters by the name a task's ``converter:`` gives (``fields`` when it gives none)."""


@dataclass
class ConvertContext:
    """What a converter may need besides the record: the spec, its options, and error helpers."""

    spec: TaskSpec
    options: Mapping[str, Any] = field(default_factory=dict)
    skipped: int = 0
    # Scratch space for converters that need to see several records (grouping) or remember settings.
    state: dict[str, Any] = field(default_factory=dict)

    def get(self, record: Record, key: str, *, types: tuple[type, ...] | None = None, default: Any = ...) -> Any:
        """``record.data[key]`` or a :class:`RecordError` naming file, line and field."""
        if key not in record.data or record.data[key] is None:
            if default is not ...:
                return default
            have = ", ".join(sorted(map(str, record.data))[:12])
            raise RecordError(record.file, record.line, f"missing (record has: {have})", field=key)
        value = record.data[key]
        if types is not None and not isinstance(value, types):
            names = " or ".join(t.__name__ for t in types)
            raise RecordError(record.file, record.line, f"expected {names}, got {type(value).__name__}", field=key)
        return value

    def fail(self, record: Record, message: str, field: str | None = None) -> RecordError:
        return RecordError(record.file, record.line, message, field=field)


def _converter_module(spec: TaskSpec) -> tuple[Any, str, str]:
    name = spec.converter or "fields"
    if ":" in name:
        module_name, _, attr = name.partition(":")
    else:
        module_name, attr = name, "convert"
    local = _local_module_file(spec, module_name) if spec.converter else None
    if local is not None:
        return _load_file(local, spec), name, attr
    if ":" not in name:
        if name not in CONVERTERS:
            raise UserError(f"task '{spec.name}': converter module 'rmbench.data.converters.{name}' not found",
                            hint=_missing_hint(spec, name))
        module_name, _, attr = str(CONVERTERS.target(name)).partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and not module_name.startswith(exc.name):
            raise  # the converter was found but imports something missing: show that error as it is
        raise UserError(
            f"task '{spec.name}': converter module '{module_name}' not found", hint=_missing_hint(spec, module_name)
        ) from None
    return module, name, attr


def _local_module_file(spec: TaskSpec, module_name: str) -> Path | None:
    """``<task folder>/<module>.py`` (dots are sub-folders) when the task file's folder has it."""
    if spec.folder is None:
        return None
    path = spec.folder.joinpath(*module_name.split(".")).with_suffix(".py")
    return path if path.is_file() else None


def _load_file(path: Path, spec: TaskSpec) -> ModuleType:
    """Import a converter module from a file, without adding its folder to ``sys.path``.

    The module is registered in ``sys.modules`` under a name unique to the file (so dataclasses and
    pickling work) and imported once per file.
    """
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    key = f"rmbench_task_converters.{path.stem}_{digest}"
    if key in sys.modules:
        return sys.modules[key]
    module_spec = importlib.util.spec_from_file_location(key, path)
    if module_spec is None or module_spec.loader is None:
        raise UserError(f"task '{spec.name}': cannot import converter file {path}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[key] = module
    try:
        module_spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[key]
        raise
    return module


def _missing_hint(spec: TaskSpec, module_name: str) -> str:
    """Where a converter was looked for, with a did-you-mean over the files next to the task."""
    builtin = CONVERTERS.names()
    local = sorted(p.stem for p in spec.folder.glob("*.py")) if spec.folder is not None else []
    short = module_name.removeprefix("rmbench.data.converters.")
    close = difflib.get_close_matches(short, local + builtin, n=1)
    places = f"{spec.folder}/{short}.py, " if spec.folder is not None else ""
    looked = f"looked for {places}rmbench.data.converters.{short} and an importable module '{module_name}'"
    return f"did you mean '{close[0]}'? ({looked})" if close else looked
def get_finisher(spec: TaskSpec) -> Finisher | None:
    """The converter's finisher (``finish`` / ``<name>_finish``, called after the last record), if any."""
    module, _, attr = _converter_module(spec)
    fn = getattr(module, "finish" if attr == "convert" else f"{attr}_finish", None)
    return fn if callable(fn) else None


def get_converter(spec: TaskSpec) -> Converter:
    """The task's converter, or the generic field-mapping one when ``converter`` is not set."""
    module, name, attr = _converter_module(spec)
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise UserError(f"task '{spec.name}': converter '{name}' has no callable '{attr}'")
    return fn  # type: ignore[no-any-return]
