"""Task file typos fail when the file is loaded (validate, list, run), naming file:line and a
did-you-mean; ``validate`` checks a generic task's data file; a ``--set`` error names the override."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rmbench.data.task import load_task, parse_task_file
from rmbench.errors import UserError

BASE = """\
name: {name}
version: 1
description: typo test
example_kind: stepwise
subsets: [easy, hard]
source:
  local:
    files: {{easy: e.jsonl, hard: h.jsonl}}
scoring:
  primary_metric: {primary}
  aggregates:
    f1: {{kind: harmonic_mean, of: [acc_erroneous, {second}]}}
  sections:
    all: [easy, {section}]
model_kinds: [process]
"""


@pytest.fixture(autouse=True)
def _no_user_task_dirs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RMBENCH_TASKS_DIR", raising=False)


def _task(tmp_path: Path, name: str = "typo", file: str | None = None, **keys: str) -> Path:
    values = {"primary": "f1", "second": "acc_correct", "section": "hard", **keys}
    path = tmp_path / f"{file or name}.yaml"
    path.write_text(BASE.format(name=name, **values), encoding="utf-8")
    return path


def _error(path: Path) -> str:
    with pytest.raises(UserError) as exc:
        parse_task_file(path)
    return str(exc.value)


def test_a_correct_file_loads(tmp_path: Path) -> None:
    assert parse_task_file(_task(tmp_path)).spec.name == "typo"


def test_primary_metric_typo(tmp_path: Path) -> None:
    path = _task(tmp_path, primary="acc_erroneus")
    assert f"{path}:10: 'acc_erroneus' is not a metric" in _error(path)
    assert "did you mean 'acc_erroneous'?" in _error(path)


def test_aggregate_of_names_an_unknown_metric(tmp_path: Path) -> None:
    path = _task(tmp_path, second="acc_corect")
    assert f"{path}:12: 'acc_corect' is not a per-item metric of stepwise tasks (did you mean 'acc_correct'?)" in _error(path)


def test_section_lists_an_unknown_subset(tmp_path: Path) -> None:
    path = _task(tmp_path, section="hadr")
    assert f"{path}:14: 'hadr' is not a subset of this task (section 'all') (did you mean 'hard'?)" in _error(path)


def test_file_name_that_disagrees_with_name(tmp_path: Path) -> None:
    path = _task(tmp_path, name="typo", file="typos")
    assert f"{path}:1: key 'name' is 'typo' but the file is named 'typos.yaml'" in _error(path)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rmbench.cli", *args], capture_output=True, text=True, timeout=300)


def test_list_marks_a_misnamed_file_invalid(tmp_path: Path) -> None:
    _task(tmp_path, name="typo", file="typos")
    result = _cli("list", "--tasks-dir", str(tmp_path))
    assert result.returncode == 0
    row = next(line for line in result.stdout.splitlines() if "typos" in line)
    assert "invalid" in row


def test_validate_reports_every_typo_with_exit_2(tmp_path: Path) -> None:
    path = _task(tmp_path, primary="f_1", section="hadr")
    result = _cli("validate", str(path), "--no-load")
    text = " ".join(result.stderr.split())
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{path}:10: 'f_1' is not a metric" in text and "did you mean 'f1'?" in text
    assert f"{path}:14: 'hadr'" in text


def test_set_errors_name_the_override_not_the_builtin_file(tmp_path: Path) -> None:
    with pytest.raises(UserError) as exc:
        load_task("pairs", overrides={"scoring": {"primary_metric": "acuracy"}})
    assert "--set scoring.primary_metric=acuracy (overriding " in str(exc.value)
    assert "pairs.yaml:" not in str(exc.value) and "did you mean 'accuracy'?" in str(exc.value)
    data = tmp_path / "p.jsonl"
    data.write_text(json.dumps({"prompt": "q", "chosen": "a", "rejected": "b"}) + "\n")
    result = _cli("run", "--task", "pairs", "--data-file", str(data), "--model", "baseline:length",
                  "--set", "scoring.tie_policy=hlaf", "--out", str(tmp_path / "o"), "--quiet")  # fmt: skip
    text = " ".join(result.stderr.split())
    assert result.returncode == 2 and "--set scoring.tie_policy=hlaf (overriding" in text


def test_validate_checks_a_generic_data_file_before_a_run(tmp_path: Path) -> None:
    good = tmp_path / "steps.jsonl"
    rows = [{"problem": "p", "steps": ["a", "b"], "label": 1}, {"problem": "q", "steps": ["a"], "label": 0}]
    good.write_text("".join(json.dumps(r) + "\n" for r in rows))
    flags = ("--field", "question=problem", "--field", "first_error=label")
    result = _cli("validate", "steps", "--data-file", str(good), *flags)
    assert result.returncode == 0, result.stderr
    assert "2 examples from 2 records" in result.stdout
    result = _cli("validate", "steps", "--data-file", str(good), *flags, "--option", "first_error_base=1")
    text = " ".join(result.stderr.split())
    assert result.returncode == 2 and "steps.jsonl:2: field 'label': 0 is neither a step index (1..1" in text
    hh = tmp_path / "hh.jsonl"
    hh.write_text(json.dumps({"chosen": "\n\nHuman: q\n\nAssistant: a", "rejected": "\n\nHuman: q\n\nAssistant: b"}) + "\n")
    result = _cli("validate", "pairs", "--data-file", str(hh), "--field", "format=hh")
    text = " ".join(result.stderr.split())
    assert result.returncode == 2 and "unknown field 'format'" in text and "--option format=hh" in text
    assert _cli("validate", "pairs", "--data-file", str(hh), "--option", "format=hh").returncode == 0


def test_builtin_tasks_pass_the_checks() -> None:
    from rmbench.data.task import BUILTIN_TASKS_DIR

    for path in sorted(BUILTIN_TASKS_DIR.glob("*.yaml")):
        parse_task_file(path, "builtin")
