"""A regular (non-editable) wheel carries the built-in tasks, prompt templates and bundled samples.

The tasks and prompts live in the repository's top-level ``tasks/`` and ``prompts/``; ``setup.py``
copies them into the wheel as ``rmbench/_builtin/{tasks,prompts}`` and :func:`rmbench.data.task.builtin_dir`
falls back to those folders. The wheel is built from a copy of the sources (an in-tree build would
write ``build/`` into the repository) and inspected as a zip; the unpacked wheel is then imported
from a subprocess to check that discovery finds the bundled tasks and prompts.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "rmbench", "tasks", "prompts")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The dev extra installs the build backend; a missing one is a broken test environment, not a skip.
    hint = "install the dev extra: pip install -e '.[dev]'"
    for module in ("pip", "setuptools"):
        if importlib.util.find_spec(module) is None:
            pytest.fail(f"{module} is not installed; {hint}")
    setuptools_version = tuple(int(p) for p in version("setuptools").split(".")[:2] if p.isdigit())
    if setuptools_version < (70, 1) and importlib.util.find_spec("wheel") is None:
        pytest.fail(f"setuptools < 70.1 needs the 'wheel' package to build wheels; {hint}")
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "_builtin"))
        elif path.is_file():
            shutil.copy2(path, src / name)
    out = tmp_path_factory.mktemp("wheel")
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", str(out), "."]
    proc = subprocess.run(cmd, cwd=src, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        pytest.fail(f"wheel build failed:\n{proc.stdout}\n{proc.stderr}")
    (built,) = out.glob("rmbench-*.whl")
    return built


def test_wheel_contains_tasks_prompts_and_samples(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        for task in sorted((REPO / "tasks").glob("*.yaml")):
            arcname = f"rmbench/_builtin/tasks/{task.name}"
            assert arcname in names, arcname
            assert zf.read(arcname) == task.read_bytes()
        for prompt in sorted((REPO / "prompts").glob("*.j2")):
            assert f"rmbench/_builtin/prompts/{prompt.name}" in names, prompt.name
        for sample in sorted((REPO / "rmbench" / "samples").iterdir()):
            assert f"rmbench/samples/{sample.name}" in names, sample.name
        assert "rmbench/reports/templates/leaderboard.html.j2" in names  # the leaderboard page's template
    assert not any(n.startswith(("tasks/", "prompts/")) for n in names)  # nothing outside the package


def test_unpacked_wheel_discovers_bundled_tasks_and_prompts(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    code = (
        "import json, rmbench\n"
        "from rmbench.data.task import BUILTIN_TASKS_DIR, discover_tasks\n"
        "from rmbench.adapters.judge.prompts import PROMPTS_DIR, builtin_prompts\n"
        "print(json.dumps([rmbench.__file__, str(BUILTIN_TASKS_DIR), str(PROMPTS_DIR),\n"
        "                  sorted(discover_tasks()), builtin_prompts()]))\n"
    )
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    module, tasks_dir, prompts_dir, tasks, prompts = json.loads(proc.stdout.strip().splitlines()[-1])
    assert Path(module).is_relative_to(site)  # the unpacked wheel, not the editable checkout
    assert Path(tasks_dir) == site / "rmbench" / "_builtin" / "tasks"
    assert Path(prompts_dir) == site / "rmbench" / "_builtin" / "prompts"
    assert tasks == sorted(p.stem for p in (REPO / "tasks").glob("*.yaml"))
    assert prompts == sorted(p.stem for p in (REPO / "prompts").glob("*.j2"))
