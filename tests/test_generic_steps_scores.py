"""Step-level data and bring-your-own scores without Python: the ``steps`` task, column mapping for
stepwise tasks, converters next to a task file, and score files in the A/B, list and step layouts.

Every expected number below is computed by hand in the comments.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rmbench.adapters.precomputed import PrecomputedAdapter
from rmbench.data.examples import load_examples
from rmbench.data.task import load_task
from rmbench.errors import RecordError, UserError


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _run(*args: str) -> dict[str, Any]:
    from rmbench.cli.commands import app

    result = CliRunner().invoke(app, ["run", *args, "--n-bootstrap", "200", "--quiet"])
    assert result.exit_code == 0, (result.output, result.exception)
    out = Path(args[args.index("--out") + 1])
    return json.loads((out / "summary.json").read_text())


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rmbench.cli", *args], capture_output=True, text=True, timeout=300)


def _metric(summary: dict[str, Any], name: str) -> float:
    return float(summary["results"]["overall"]["metrics"][name]["value"])


# Step-level file: 0-based first wrong step, null when every step is right.
STEP_ROWS = [
    {"problem": "p1", "steps": ["a", "b", "c"], "label": 1},
    {"problem": "p2", "steps": ["a", "b"], "label": None},
    {"problem": "p3", "steps": ["a", "b", "c"], "label": 0},
    {"problem": "p4", "steps": ["a", "b"], "label": None},
    {"problem": "p5", "steps": ["a", "b"], "label": None},
]
# Step scores (P(step correct)); threshold 0.5 -> predicted first error = first step below 0.5.
STEP_SCORES = [
    {"id": "1", "step_scores": [0.9, 0.3, 0.8]},  # predicted 1 = gold 1 (right); argmin 1 (right)
    {"id": "2", "step_scores": [0.9, 0.7]},  # predicted none = gold none (right)
    {"id": "3", "step_scores": [0.6, 0.2, 0.9]},  # predicted 1, gold 0 (wrong); argmin 1 (wrong)
    {"id": "4", "step_scores": [0.4, 0.9]},  # predicted 0, gold none (wrong)
    {"id": "5", "step_scores": [0.8, 0.95]},  # predicted none (right)
]
# acc_erroneous = 1/2, acc_correct = 2/3, f1 = 2 * (1/2 * 2/3) / (1/2 + 2/3) = 4/7,
# argmin_acc_erroneous = 1/2. Labelled steps (correct before the first error, wrong at it):
# positives 0.9 | 0.9 0.7 | 0.4 0.9 | 0.8 0.95, negatives 0.3 (item 1) and 0.6 (item 3):
# 7 positives beat 0.3 and 6 beat 0.6 -> step AUROC = 13 / 14.
STEP_FLAGS = ("--task", "steps", "--field", "question=problem", "--field", "steps=steps", "--field", "first_error=label")


def test_steps_file_with_nulls_and_step_scores_runs_end_to_end(tmp_path: Path) -> None:
    data = _jsonl(tmp_path / "steps.jsonl", STEP_ROWS)
    scores = _jsonl(tmp_path / "prm.jsonl", STEP_SCORES)
    s = _run(*STEP_FLAGS, "--data-file", str(data), "--scores", str(scores), "--out", str(tmp_path / "run"))
    assert s["data"]["n_items"] == 5
    assert _metric(s, "acc_erroneous") == pytest.approx(1 / 2)
    assert _metric(s, "acc_correct") == pytest.approx(2 / 3)
    assert _metric(s, "f1") == pytest.approx(4 / 7)
    assert _metric(s, "argmin_acc_erroneous") == pytest.approx(1 / 2)
    assert _metric(s, "step_auroc") == pytest.approx(13 / 14)
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["model"]["threshold"] == 0.5


def test_first_error_column_in_a_score_file_replaces_the_threshold(tmp_path: Path) -> None:
    """A critic's answers: ``first_error`` per solution (-1 = no error). Right on 1, 2, 3 and 5 of 5."""
    data = _jsonl(tmp_path / "steps.jsonl", STEP_ROWS)
    rows = [{**r, "first_error": fe} for r, fe in zip(STEP_SCORES, [1, -1, 0, 1, None], strict=True)]
    s = _run(*STEP_FLAGS, "--data-file", str(data), "--scores", str(_jsonl(tmp_path / "c.jsonl", rows)),
             "--out", str(tmp_path / "run"))  # fmt: skip
    assert _metric(s, "acc_erroneous") == 1.0 and _metric(s, "acc_correct") == pytest.approx(2 / 3)


def test_one_based_indices_and_a_custom_no_error_value_from_yaml_only(tmp_path: Path) -> None:
    data = _jsonl(tmp_path / "d.jsonl", [
        {"q": "x", "solution": ["s1", "s2"], "wrong": 2},
        {"q": "y", "solution": ["s1"], "wrong": 0},
        {"q": "z", "solution": ["s1", "s2"], "wrong": "1"},
    ])  # fmt: skip
    task = tmp_path / "tasks" / "my-steps.yaml"
    task.parent.mkdir()
    task.write_text(
        "name: my-steps\nversion: 1\ndescription: mine\nexample_kind: stepwise\n"
        f"source: {{local: {{files: [{data}]}}}}\n"
        "fields: {question: q, steps: solution, first_error: wrong}\n"
        "options: {first_error_base: 1, no_error_value: 0}\n"
        "scoring: {primary_metric: acc_erroneous}\nmodel_kinds: [process]\n",
        encoding="utf-8",
    )
    examples = load_examples(load_task(str(task)).spec, None).examples
    assert [e.first_error for e in examples] == [1, None, 0]  # type: ignore[attr-defined]
    assert examples[0].prompt_text == "x" and examples[0].steps == ("s1", "s2")  # type: ignore[attr-defined]


def test_bad_step_indices_and_options(tmp_path: Path) -> None:
    data = _jsonl(tmp_path / "d.jsonl", [{"question": "q", "steps": ["a"], "first_error": 3}])
    over = {"source": {"local": {"files": [str(data)]}}}
    with pytest.raises(RecordError, match=r"d\.jsonl:1: field 'first_error': 3 is neither a step index \(0\.\.0"):
        load_examples(load_task("steps", overrides=over).spec, None)
    with pytest.raises(UserError, match="no_error_value 1 is also a step index"):
        load_examples(load_task("steps", overrides={**over, "options": {"no_error_value": 1}}).spec, None)
    with pytest.raises(UserError, match="unknown option 'first_error_bse'") as exc:
        load_examples(load_task("steps", overrides={**over, "options": {"first_error_bse": 1}}).spec, None)
    assert "did you mean 'first_error_base'" in str(exc.value)


# ------------------------------------------------------------------------------ converters next to a task file

CONVERTER = '''
from rmbench.datatypes import StepwiseExample

def convert(record, ctx):
    steps = record.data["text"].split(" | ")
    return StepwiseExample(id=str(record.line), subset="all", prompt=record.data["q"], steps=steps,
                           first_error=None)
'''


def _user_task_folder(tmp_path: Path, converter: str) -> Path:
    data = _jsonl(tmp_path / "d.jsonl", [{"q": "x", "text": "a | b"}])
    folder = tmp_path / "my-tasks"
    folder.mkdir()
    (folder / "my_conv.py").write_text(CONVERTER, encoding="utf-8")
    (folder / "split-steps.yaml").write_text(
        f"name: split-steps\nversion: 1\ndescription: mine\nexample_kind: stepwise\nconverter: {converter}\n"
        f"source: {{local: {{files: [{data}]}}}}\nscoring: {{primary_metric: acc_correct}}\nmodel_kinds: [process]\n",
        encoding="utf-8",
    )
    return folder


def test_converter_module_next_to_the_task_file_is_importable(tmp_path: Path) -> None:
    folder = _user_task_folder(tmp_path, "my_conv:convert")
    before = list(sys.path)
    (ex,) = load_examples(load_task("split-steps", [folder]).spec, None).examples
    assert ex.steps == ("a", "b")  # type: ignore[attr-defined]
    assert sys.path == before and "my_conv" not in sys.modules
    result = _cli("validate", "split-steps", "--tasks-dir", str(folder))
    assert result.returncode == 0, result.stderr
    assert "1 examples from 1 records" in result.stdout


def test_missing_converter_module_says_where_it_looked(tmp_path: Path) -> None:
    folder = _user_task_folder(tmp_path, "my_cnv:convert")
    result = _cli("validate", "split-steps", "--tasks-dir", str(folder))
    text = " ".join(result.stderr.split())
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "converter module 'my_cnv' not found" in text and "did you mean 'my_conv'?" in text
    assert f"{folder}/my_cnv.py" in text


# ------------------------------------------------------------------------------ bring your own scores: layouts

AB_ROWS = [
    {"id": "r1", "prompt": "q1", "response_a": "x", "response_b": "y", "label": "A>B"},
    {"id": "r2", "prompt": "q2", "response_a": "x", "response_b": "y", "label": "B>A"},
    {"id": "r3", "prompt": "q3", "response_a": "x", "response_b": "y", "label": "B>A"},
    {"id": "r4", "prompt": "q4", "response_a": "x", "response_b": "y", "label": "A>B"},
]
AB_SCORES = [
    {"id": "r1", "score_a": 2.0, "score_b": 1.0},  # A preferred, A higher: right
    {"id": "r2", "score_a": 2.0, "score_b": 1.0},  # B preferred, A higher: wrong
    {"id": "r3", "score_a": 0.0, "score_b": 3.0},  # B preferred, B higher: right
    {"id": "r4", "score_a": 1.0, "score_b": 1.0},  # tie: wrong under the pairs task's tie policy
]  # accuracy 2 / 4, one tie


def test_ab_score_file_on_a_label_layout_task_runs_end_to_end(tmp_path: Path) -> None:
    data = _jsonl(tmp_path / "pairs.jsonl", AB_ROWS)
    scores = _jsonl(tmp_path / "ab.jsonl", AB_SCORES)
    s = _run("--task", "pairs", "--data-file", str(data), "--field", "label=label", "--scores", str(scores),
             "--out", str(tmp_path / "run"))  # fmt: skip
    assert _metric(s, "accuracy") == pytest.approx(0.5) and s["results"]["overall"]["ties"] == 1


def test_ab_scores_follow_llmbar_labels(tmp_path: Path) -> None:
    """LLMBar's bundled sample: score_a = 1 and score_b = 0 is right exactly where output 1 is preferred."""
    examples = load_examples(load_task("llmbar").spec, None, use_bundled=True).examples
    scores = _jsonl(tmp_path / "s.jsonl", [{"id": e.id, "score_a": 1, "score_b": 0} for e in examples])
    adapter = PrecomputedAdapter(scores)
    adapter.bind(examples)
    preds = adapter.score(examples)
    right = [p.scores["chosen"] > p.scores["rejected"] for p in preds]
    assert right == [e.meta["label"] == 1 for e in examples] and 0 < sum(right) < len(right)


def test_ab_scores_need_a_task_that_records_positions(tmp_path: Path) -> None:
    data = _jsonl(tmp_path / "p.jsonl", [{"prompt": "q", "chosen": "a", "rejected": "b"}])
    examples = load_examples(load_task("pairs", overrides={"source": {"local": {"files": [str(data)]}}}).spec,
                             None).examples  # fmt: skip
    adapter = PrecomputedAdapter(_jsonl(tmp_path / "s.jsonl", [{"id": "1", "score_a": 1, "score_b": 0}]))
    with pytest.raises(RecordError, match="s.jsonl:1: field 'score_a': item '1' does not record which response was A"):
        adapter.bind(examples)
    mixed = PrecomputedAdapter(_jsonl(tmp_path / "m.jsonl", [{"id": "1", "chosen": 1, "score_b": 0}]))
    with pytest.raises(RecordError, match="m.jsonl:1: row mixes two score layouts"):
        mixed.bind(examples)


def test_multi_response_scores_as_one_list(tmp_path: Path) -> None:
    """``scores``: correct responses first. Item 1: 0.9 beats 0.5 and 0.1 (right); item 2: 0.4 < 0.6 (wrong)."""
    data = _jsonl(tmp_path / "bon.jsonl", [
        {"prompt": "q1", "correct": ["c"], "incorrect": ["i", "j"]},
        {"prompt": "q2", "correct": ["c"], "incorrect": ["i", "j"]},
    ])  # fmt: skip
    task = tmp_path / "bon.yaml"
    task.write_text(
        "name: bon\nversion: 1\ndescription: best of three\nexample_kind: multi_response\n"
        f"source: {{local: {{files: [{data}]}}}}\n",
        encoding="utf-8",
    )
    scores = _jsonl(tmp_path / "s.jsonl", [{"id": "1", "scores": [0.9, 0.5, 0.1]}, {"id": "2", "scores": [0.4, 0.6, 0.1]}])
    s = _run("--task", str(task), "--scores", str(scores), "--out", str(tmp_path / "run"))
    assert _metric(s, "accuracy") == pytest.approx(0.5)
