"""Registries are explicit tables: lazy entries, an error on a duplicate name, did-you-mean on an
unknown one, and nothing registered by importing a module for its side effects."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rmbench.data.converters import CONVERTERS
from rmbench.grading.core import CLUSTER_GRADERS, GRADERS
from rmbench.registry import DuplicateName, Registry, UnknownName


def test_duplicate_name_is_an_error_not_an_overwrite() -> None:
    reg: Registry[object] = Registry("thing", {"a": "builtins:len"})
    with pytest.raises(DuplicateName, match="thing 'a' is already registered"):
        reg.add("a", "builtins:repr")
    assert reg.get("a") is len


def test_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(UnknownName) as err:
        GRADERS.get("judge:pairwies")
    assert "did you mean 'judge:pairwise'?" in str(err.value)


def test_entries_are_lazy_and_all_load() -> None:
    reg: Registry[object] = Registry("thing", {"missing": "rmbench.no_such_module:x"})
    assert "missing" in reg  # nothing imported yet
    for table in (GRADERS, CLUSTER_GRADERS, CONVERTERS):
        for name in table:
            assert callable(table.get(name)), f"{table.what} {name}"


def test_every_converter_module_is_in_the_table() -> None:
    """A converter module added without its line in CONVERTERS would be unreachable by name."""
    folder = Path(__file__).parents[1] / "rmbench" / "data" / "converters"
    modules = {p.stem for p in folder.glob("*.py") if "\ndef convert(" in p.read_text()}
    assert modules <= set(CONVERTERS.names())  # more entries: modules with several converters


def test_grading_needs_no_import_for_side_effects() -> None:
    """A fresh interpreter grades a stepwise item without importing the step adapters first; before,
    the stepwise grader existed only once some adapter had imported its module "to register" it."""
    code = (
        "from rmbench.datatypes import Prediction, StepwiseExample\n"
        "from rmbench.grading.core import Policies, grade\n"
        "ex = StepwiseExample(id='x', subset='s', prompt=({'role': 'user', 'content': 'q'},), "
        "steps=('a', 'b'), first_error=1)\n"
        "g = grade(ex, Prediction(scores={'step_scores': [0.9, 0.1]}), Policies())\n"
        "print(g.metrics['first_error_acc'] if 'first_error_acc' in g.metrics else sorted(g.metrics))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
