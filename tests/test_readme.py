"""The README's commands run as written (issue 11 item 15).

Every ``rmbench`` command in the fenced blocks of "Everyday use" and "Statistics commands and the CI
gate" is executed in that order, in a folder laid out as the README assumes: ``DATA`` is the upstream
data folder, ``./my-rm``, ``./policy`` ... are tiny real models (random weights, real tokenizer and
loading path), and ``prefs.csv``, ``hh.jsonl``, ``steps.jsonl``, ``my_scores.jsonl`` and
``my_task.yaml`` are small files written here. The one change made to the commands: each
``rmbench run`` gets ``--limit 2`` (a ``--limit`` it has becomes ``--limit 1``), so the whole README runs in a
few minutes on two CPU cores; everything else is the README's text.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SECTIONS = ("## Everyday use", "## Statistics commands and the CI gate")


def readme_commands() -> list[str]:
    """The ``rmbench`` commands of the README sections above, continuation lines joined, comments cut."""
    text = README.read_text(encoding="utf-8")
    commands: list[str] = []
    for heading in SECTIONS:
        body = text[text.index(heading):]
        body = body[: body.find("\n## ", 3)] if "\n## " in body[3:] else body
        for block in re.findall(r"```bash\n(.*?)```", body, flags=re.S):
            joined = block.replace("\\\n", " ")
            for line in joined.splitlines():
                line = re.sub(r"\s+#.*$", "", line).strip()
                if line.startswith("rmbench "):
                    commands.append(re.sub(r"\s+", " ", line))
    return commands


def shrink(command: str) -> str:
    """``rmbench run`` with a small ``--limit`` (the only edit made to a README command)."""
    if not command.startswith("rmbench run "):
        return command
    if "--limit" in command:
        return re.sub(r"--limit \d+", "--limit 1", command)
    return command + " --limit 2"


def test_readme_lists_the_commands_it_promises() -> None:
    commands = readme_commands()
    assert len(commands) >= 20
    for needle in ("--kind implicit", "--task pairs", "--task steps", "--scores", "leaderboard verify", "gate"):
        assert any(needle in c for c in commands), needle


def _write_user_files(cwd: Path, data_dir: Path) -> None:
    with (cwd / "prefs.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["question", "good_answer", "bad_answer"])
        w.writerow(["What is 2+2?", "2+2 is 4.", "5"])
        w.writerow(["Name a primary colour.", "Red is a primary colour.", "Green, I think"])
        w.writerow(["Capital of France?", "Paris.", "The capital of France is Lyon, a big city."])
    hh = [
        {"chosen": "\n\nHuman: Hi, can you add 2 and 2?\n\nAssistant: Sure: 4.",
         "rejected": "\n\nHuman: Hi, can you add 2 and 2?\n\nAssistant: No."},
        {"chosen": "\n\nHuman: Say hello.\n\nAssistant: Hello!\n\nHuman: Louder.\n\nAssistant: HELLO!",
         "rejected": "\n\nHuman: Say hello.\n\nAssistant: Hello!\n\nHuman: Louder.\n\nAssistant: hello"},
    ]
    (cwd / "hh.jsonl").write_text("".join(json.dumps(r) + "\n" for r in hh), encoding="utf-8")
    steps = [
        {"problem": "2+3*4?", "steps": ["3*4 = 12", "2 + 12 = 14"], "label": -1},
        {"problem": "10/4?", "steps": ["10/4 = 2", "so 2"], "label": 0},
        {"problem": "7-2+1?", "steps": ["7-2 = 5", "5+1 = 7", "7"], "label": 1},
    ]
    (cwd / "steps.jsonl").write_text("".join(json.dumps(r) + "\n" for r in steps), encoding="utf-8")
    # Scores computed elsewhere, keyed by the ids of the examples the README's run reads (--limit 2).
    from rmbench.data.examples import load_examples
    from rmbench.data.task import load_task

    exset = load_examples(load_task("llmbar").spec, data_dir, limit=2)
    rows = [{"id": e.id, "chosen": float(len(e.chosen)), "rejected": float(len(e.rejected))} for e in exset.examples]
    (cwd / "my_scores.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (cwd / "my_task.yaml").write_text(
        "name: my_task\nversion: 1\ndescription: LLMBar Natural read with a column mapping.\n"
        "example_kind: pairwise\nsource:\n  local:\n    files:\n      natural: llmbar/LLMBar_Natural.json\n"
        "fields: {prompt: input, response_a: output_1, response_b: output_2, label: label}\n"
        "scoring: {tie_policy: wrong, primary_metric: accuracy}\nmodel_kinds: [scalar, baseline]\n",
        encoding="utf-8",
    )


def test_every_readme_command_runs_as_written(
    tmp_path: Path, data_dir: Path, tiny_rm_dir: Path, tiny_lm_dir: Path, smollm2_dir: Path
) -> None:
    from rmbench.testing.tiny import build_tiny_model

    cwd = tmp_path / "work"
    cwd.mkdir()
    other_rm = build_tiny_model(tmp_path / "rm-v2", kind="seq-cls", tokenizer_dir=smollm2_dir, seed=1)
    nli = build_tiny_model(tmp_path / "nli", kind="seq-cls", tokenizer_dir=smollm2_dir, num_labels=3)
    config = json.loads((nli / "config.json").read_text())  # an NLI model names its labels
    config["id2label"] = {"0": "entailment", "1": "neutral", "2": "contradiction"}
    config["label2id"] = {v: int(k) for k, v in config["id2label"].items()}
    (nli / "config.json").write_text(json.dumps(config))
    sft = build_tiny_model(tmp_path / "sft", kind="causal-lm", tokenizer_dir=smollm2_dir, seed=1)
    links = {"DATA": data_dir, "my-rm": tiny_rm_dir, "my-rm-v2": other_rm, "policy": tiny_lm_dir,
             "dpo-policy": tiny_lm_dir, "sft": sft, "judge-llm": tiny_lm_dir, "prm": tiny_lm_dir, "nli": nli}
    for name, target in links.items():
        (cwd / name).symlink_to(target)
    _write_user_files(cwd, data_dir)

    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "COLUMNS": "120"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(README.parent), env.get("PYTHONPATH", "")) if p)
    if shutil.which("rmbench", path=env["PATH"]) is None:
        pytest.skip("the rmbench console script is not installed in this environment")
    outputs: dict[str, str] = {}
    for command in readme_commands():
        cmd = shrink(command)
        proc = subprocess.run(["bash", "-c", cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
        allowed = (0, 1) if command.startswith("rmbench gate") else (0,)  # gate: 1 = a regression found
        assert proc.returncode in allowed, f"{cmd}\nexit {proc.returncode}\n{proc.stderr[-2000:]}"
        assert "Traceback" not in proc.stderr, cmd
        outputs[command] = proc.stdout + proc.stderr

    # The values behind the commands, not just their exit codes.
    summary = json.loads((cwd / "runs/my-rm-llmbar/summary.json").read_text())
    assert summary["data"]["n_items"] == 10  # 2 per LLMBar subset
    items = [json.loads(x) for x in (cwd / "runs/my-rm-llmbar/items.jsonl").read_text().splitlines()]
    acc = sum(i["metrics"]["accuracy"] for i in items) / len(items)
    assert summary["results"]["overall"]["metrics"]["accuracy"]["value"] == pytest.approx(acc)
    pairs = next(s for s in (json.loads(p.read_text()) for p in (cwd / "runs/pairs").glob("*/summary.json"))
                 if "prefs.csv" in json.dumps(s["data"]["source"]))
    assert pairs["data"]["n_items"] == 2 and "prefs.csv" in json.dumps(pairs["data"]["source"])
    # the length baseline prefers the longer answer: right on rows 1-2, wrong on row 3 (limit 2 reads 2)
    assert pairs["results"]["overall"]["baselines"]["length"]["accuracy"]["value"] == pytest.approx(1.0)
    steps_run = json.loads(next((cwd / "runs/steps").glob("*/summary.json")).read_text())
    assert steps_run["data"]["n_items"] == 2
    board = json.loads((cwd / "leaderboards/llmbar.json").read_text())
    assert len(board["entries"]) >= 5
    verify = next(v for k, v in outputs.items() if "leaderboard verify" in k)
    assert "reproduce from their runs" in verify
    assert (cwd / "leaderboard.html").stat().st_size > 1000
    assert (cwd / "gate.xml").exists() and (cwd / "cmp.md").exists()
    # the task families: every claim is graded, the faithfulness runs report their own blocks
    for task, key in (("factscore", "macro_f1"), ("rfeval", "rf"), ("cot-faithfulness", "influenced")):
        run_summary = json.loads(next((cwd / "runs" / task).glob("*/summary.json")).read_text())
        assert run_summary["data"]["n_items"] > 0
        assert key in json.dumps(run_summary["results"]), (task, key)
