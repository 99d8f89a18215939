"""Names that become file paths cannot leave their folders (issue 10, item 7: path traversal).

A task named ``../../../escaped`` used to write its run folder three levels above ``runs/``, and
``leaderboard build`` its JSON above ``leaderboards/``. Each test runs the real command in a scratch
working directory nested a few levels deep and checks that nothing appears outside it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rmbench.adapters.judge.prompts import load_prompt
from rmbench.analysis.leaderboard import default_output_path
from rmbench.data.task import parse_task_file
from rmbench.errors import UserError
from rmbench.names import check_name, name_problem, slugify
from rmbench.runner import RunConfig, default_run_dir, run

REPO = Path(__file__).resolve().parents[1]
EVIL = "../../../escaped"


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "rmbench.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def _pairs_file(folder: Path) -> Path:
    data = folder / "prefs.jsonl"
    rows = [{"prompt": f"q{i}", "chosen": "a long answer " * (i + 1), "rejected": "no"} for i in range(6)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return data


@pytest.fixture()
def sandbox(tmp_path: Path) -> tuple[Path, Path]:
    """(outer folder, working directory three levels below it)."""
    cwd = tmp_path / "a" / "b" / "c"
    cwd.mkdir(parents=True)
    return tmp_path, cwd


def _outside(outer: Path, cwd: Path) -> list[Path]:
    return [p for p in outer.rglob("*") if cwd not in p.parents and p != cwd and p not in cwd.parents]


def test_task_named_with_dot_dot_is_refused_at_load(sandbox: tuple[Path, Path]) -> None:
    outer, cwd = sandbox
    task = outer / "evil.yaml"
    task.write_text(f"name: '{EVIL}'\nversion: 1\ndescription: x\nexample_kind: pairwise\nsource: {{}}\n")
    data = _pairs_file(outer)
    before = set(_outside(outer, cwd))
    result = _cli(cwd, "run", "--task", str(task), "--model", "baseline:length", "--kind", "baseline",
                  "--data-file", str(data), "--quiet")  # no --out: the default run folder is built from the name
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    text = " ".join(result.stderr.split())
    assert "evil.yaml:1: key 'name': " in text and "task name must start with a letter or digit" in text
    assert set(_outside(outer, cwd)) == before  # no 'escaped' folder next to the task file
    with pytest.raises(UserError, match="key 'name'"):
        parse_task_file(task)


@pytest.mark.parametrize("name", ["..", "a/../b", "a/b", ".hidden", "-x", "a..b", "a b", ""])
def test_unsafe_names(name: str) -> None:
    assert name_problem(name) is not None
    with pytest.raises(UserError):
        check_name(name, "task name")


@pytest.mark.parametrize("name", ["llmbar", "rewardbench-2", "rm-bench", "my_task.v2", "X1"])
def test_safe_names(name: str) -> None:
    assert check_name(name, "task name") == name


def test_every_builtin_task_name_is_safe() -> None:
    for path in sorted((REPO / "tasks").glob("*.yaml")):
        assert name_problem(parse_task_file(path).spec.name) is None, path


def test_set_override_cannot_rename_a_task_to_a_path() -> None:
    with pytest.raises(UserError, match="key 'name'"):
        parse_task_file(REPO / "tasks" / "llmbar.yaml", overrides={"name": EVIL})


def test_prompt_template_name_is_a_safe_word() -> None:
    with pytest.raises(UserError, match="prompt template name"):
        load_prompt("..")
    with pytest.raises(UserError, match="prompt template name"):
        load_prompt(".pairwise")
    assert load_prompt("pairwise").name == "pairwise"


@pytest.mark.parametrize("model", [EVIL, "..", "/abs/path/../../x", ".hidden", "org/model@rev", "-", "."])
def test_default_run_dir_stays_under_runs(model: str) -> None:
    # (a kind such as "../kind" is refused earlier, when RunConfig checks its options)
    path = default_run_dir(RunConfig.from_flat(task="llmbar", model=model, kind="scalar"), "llmbar")
    assert path.parts[:2] == ("runs", "llmbar") and len(path.parts) == 3
    assert name_problem(path.parts[2]) is None, path
    with pytest.raises(UserError, match="task name"):
        default_run_dir(RunConfig.from_flat(task="x", model="m"), EVIL)


def test_slugify_keeps_the_names_earlier_versions_gave() -> None:
    """Already safe slugs are unchanged, so default folders of existing runs are found again on resume."""
    assert slugify("/models/tiny-rm") == "models_tiny-rm"
    assert slugify("baseline:length") == "baseline_length"
    assert slugify("embedded:smollm2-135m-instruct") == "embedded_smollm2-135m-instruct"
    assert slugify(EVIL) == "escaped"


def test_leaderboard_build_refuses_a_task_name_that_leaves_the_folder(
    sandbox: tuple[Path, Path], data_dir: Path
) -> None:
    outer, cwd = sandbox
    run_dir = cwd / "run"
    run(RunConfig.from_flat(task="llmbar", model="baseline:length", kind="baseline", limit=2, data_dir=data_dir,
                  out_dir=run_dir, n_bootstrap=100))
    manifest = json.loads((run_dir / "run.json").read_text())
    manifest["task"]["name"] = EVIL  # a hand-edited (or hostile) run folder
    (run_dir / "run.json").write_text(json.dumps(manifest))
    before = set(_outside(outer, cwd))
    result = _cli(cwd, "leaderboard", "build", str(run_dir), "--n-bootstrap", "100")
    # refused: by the name check, or earlier by any check of run.json against its items
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert set(_outside(outer, cwd)) == before
    assert not (cwd / "leaderboards").exists() or not any((cwd / "leaderboards").iterdir())


def test_leaderboard_default_path_checks_the_task_name() -> None:
    assert default_output_path({"task": {"name": "llmbar"}}) == Path("leaderboards") / "llmbar.json"
    for name in (EVIL, "..", "/etc/x", "a/b"):
        with pytest.raises(UserError, match=r"task name \(from run.json\)"):
            default_output_path({"task": {"name": name}})
