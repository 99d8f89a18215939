"""Bad input that used to end in a traceback (issue 10, item 11): a non-object JSON line in a run's
items.jsonl, and a user prompt template that tries to load other templates. Each is one line naming the
file and line, exit 2 through the CLI, and nothing already saved is changed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rmbench.adapters.judge.prompts import load_prompt
from rmbench.errors import RecordError, UserError
from rmbench.results.files import read_items
from rmbench.runner import RunConfig, run


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rmbench.cli", *args], capture_output=True, text=True, timeout=300)


def _one_line_error(result: subprocess.CompletedProcess[str], needle: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ")
    assert needle in " ".join(result.stderr.split()), result.stderr


# ------------------------------------------------------------------------------------- items.jsonl


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("items") / "run"
    run(RunConfig.from_flat(task="llmbar", model="baseline:length", kind="baseline", limit=2, data_dir=data_dir, out_dir=out,
                  n_bootstrap=50))
    return out


@pytest.mark.parametrize("bad", ["[1, 2]", '"x"', "5", "null", "true"])
@pytest.mark.parametrize("where", ["middle", "last"])
def test_non_object_json_line_is_a_record_error(finished_run: Path, tmp_path: Path, bad: str, where: str) -> None:
    lines = (finished_run / "items.jsonl").read_text().splitlines()
    edited = [lines[0], bad, *lines[1:]] if where == "middle" else [*lines, bad]
    items = tmp_path / "items.jsonl"
    items.write_text("\n".join(edited) + "\n")
    before = items.read_bytes()
    with pytest.raises(RecordError) as info:
        read_items(items, repair=True)
    assert (info.value.file, info.value.line) == (str(items), edited.index(bad) + 1)
    assert "expected a JSON object" in str(info.value)
    assert items.read_bytes() == before  # a complete line is never mistaken for a torn write and cut


def test_report_on_items_with_a_non_object_line(finished_run: Path, tmp_path: Path) -> None:
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(finished_run, run_dir)
    with (run_dir / "items.jsonl").open("a") as f:
        f.write('"x"\n')
    n = len((run_dir / "items.jsonl").read_text().splitlines())
    _one_line_error(_cli("report", str(run_dir)), f"items.jsonl:{n}: corrupt item line (expected a JSON object, got str)")


def test_an_object_line_missing_fields_is_named_even_when_last(finished_run: Path, tmp_path: Path) -> None:
    items = tmp_path / "items.jsonl"
    items.write_text((finished_run / "items.jsonl").read_text() + json.dumps({"id": "x"}) + "\n")
    with pytest.raises(RecordError, match="missing"):
        read_items(items, repair=True)


def test_a_torn_last_line_is_still_dropped(finished_run: Path, tmp_path: Path) -> None:
    items = tmp_path / "items.jsonl"
    good = (finished_run / "items.jsonl").read_text()
    items.write_bytes(good.encode() + b'{"id": "caf\xc3')  # killed inside a write, even inside a character
    got = read_items(items, repair=True)
    assert got.dropped_partial_line and items.read_text() == good


# ---------------------------------------------------------------------------------- prompt templates

HEADER = "{# vars: question, response_a, response_b #}\n{# verdict: last #}\n"


@pytest.mark.parametrize(
    ("body", "tag", "line"),
    [
        ('{% include "/etc/passwd" %}', "include", 3),
        ('{{ question }}\n{% import "pairwise.j2" as p %}', "import", 4),
        ('{% from "pairwise.j2" import x %}', "from ... import", 3),
        ('{% extends "pairwise.j2" %}', "extends", 3),
        ("{% if question %}\n{% include response_a %}\n{% endif %}", "include", 4),
    ],
)
def test_template_loading_other_templates_is_refused(tmp_path: Path, body: str, tag: str, line: int) -> None:
    path = tmp_path / "mine.j2"
    path.write_text(HEADER + body)
    with pytest.raises(UserError) as info:
        load_prompt(path)
    assert info.value.message == f"{path}:{line}: prompt template 'mine' uses {{% {tag} %}}, which is not allowed"


def test_template_include_through_the_cli(tmp_path: Path) -> None:
    """Refused before any model is loaded (the model path does not even exist)."""
    template = tmp_path / "mine.j2"
    template.write_text(HEADER + '{% include "/etc/passwd" %}\n')
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"prompt": "q", "chosen": "a", "rejected": "b"}) + "\n")
    result = _cli("run", "--task", "pairs", "--kind", "judge", "--model", str(tmp_path / "no-model"), "--prompt",
                  str(template), "--data-file", str(data), "--out", str(tmp_path / "o"), "--quiet")
    _one_line_error(result, f"{template}:3: prompt template 'mine' uses {{% include %}}")


def test_the_sandbox_stays_for_user_templates(tmp_path: Path) -> None:
    path = tmp_path / "peek.j2"
    path.write_text(HEADER + "{{ question.__class__.__mro__ }}")
    with pytest.raises(UserError, match="refused by the sandbox"):
        load_prompt(path).render(question="q", response_a="a", response_b="b")
