"""``rmbench run`` end to end on real files with a real (tiny) model: the run directory, resume after an
interruption, batch-size invariance, the generic ``pairs`` task, and clear errors on bad input.

Models are the session fixtures of conftest.py (a random 2-layer Llama with SmolLM2's real tokenizer and
chat template); data are the upstream files in ``$RMBENCH_DATA_DIR``.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rmbench.errors import UserError
from rmbench.results.run_dir import LOCK_FILE
from rmbench.runner import RunConfig, auto_kind, chunk_size_for, run


def _cfg(model: Path | str, tmp: Path, **kw: Any) -> RunConfig:
    base: dict[str, Any] = {"task": "llmbar", "model": str(model), "kind": "scalar", "n_bootstrap": 300}
    base.update(kw)
    return RunConfig.from_flat(out_dir=tmp, **base)


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class Interrupt(Exception):
    """Stands in for Ctrl-C / a kill between two chunks."""


# ------------------------------------------------------------------------------ the run directory


def test_llmbar_run_writes_items_summary_and_report(tiny_rm_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "llmbar"
    outcome = run(_cfg(tiny_rm_dir, out, data_dir=data_dir, limit=6))
    assert {p.name for p in out.iterdir()} >= {"items.jsonl", "summary.json", "report.md", "run.json"}
    leftovers = [p for p in out.iterdir() if (p.name.startswith(".") or p.suffix == ".tmp") and p.name != LOCK_FILE]
    assert not leftovers  # atomic writes left nothing (the lock file stays: it is reused, see rmbench.results.run_dir)
    items = _lines(out / "items.jsonl")
    assert len(items) == 30 and outcome.scored_now == 30 and outcome.reused == 0
    for it in items:
        assert {"id", "subset", "example_hash", "metrics", "scores", "ties"} <= set(it)
        assert set(it["scores"]) >= {"chosen", "rejected"}
    s = json.loads((out / "summary.json").read_text())
    assert s["schema"].startswith("rmbench.run-summary/")
    assert s["task"]["name"] == "llmbar" and s["task"]["version"] >= 1
    assert len(s["data"]["fingerprint"]) >= 16
    model = s["model"]
    for key in ("weights_sha256", "tokenizer_sha256", "chat_template_sha256", "max_length", "truncation_side"):
        assert model[key]
    assert model["dtype"] == "float32"  # auto on CPU: never fp16
    assert s["config"]["seed"] == 0 and s["config"]["tie_policy"] == "wrong"
    assert {"torch", "transformers", "rmbench"} <= set(s["environment"])
    assert s["timing"]["wall_seconds"] > 0 and s["results"]["tokens_scored"] > 0
    res = s["results"]
    assert len(res["subsets"]) == 5
    for block in [res["overall"], *res["subsets"].values()]:
        acc = block["metrics"]["accuracy"]
        assert acc["low"] <= acc["value"] <= acc["high"] and acc["n"] == block["n_items"]
        assert "ties" in block and "length" in block["baselines"]
    report = (out / "report.md").read_text()
    assert "llmbar-adver-neighbor" in report and "accuracy (95% CI)" in report
    assert "ties count as **wrong**" in report


def test_rm_bench_reports_hard_normal_easy(tiny_rm_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "rmb"
    run(_cfg(tiny_rm_dir, out, task="rm-bench", data_dir=data_dir, limit=3))
    s = json.loads((out / "summary.json").read_text())
    assert set(s["results"]["subsets"]) == {"chat", "code", "safety-refuse", "safety-response"}
    for block in [s["results"]["overall"], *s["results"]["subsets"].values()]:
        for level in ("hard", "normal", "easy"):
            est = block["metrics"][level]
            assert est["low"] <= est["value"] <= est["high"]
    header = next(line for line in (out / "report.md").read_text().splitlines() if line.startswith("| "))
    assert all(f"{m} (95% CI)" in header for m in ("hard", "normal", "easy"))


# ------------------------------------------------------------------------------ resume


def test_interrupted_run_resumes_to_the_same_summary(tiny_rm_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    whole = run(_cfg(tiny_rm_dir, tmp_path / "whole", data_dir=data_dir, limit=4, chunk_size=4))

    def stop_after_three_chunks(done: int, total: int) -> None:
        if done >= 12:
            raise Interrupt

    part = tmp_path / "part"
    with pytest.raises(Interrupt):
        run(_cfg(tiny_rm_dir, part, data_dir=data_dir, limit=4, chunk_size=4), stop_after_three_chunks)
    assert len(_lines(part / "items.jsonl")) == 12 and not (part / "summary.json").exists()
    # a kill in the middle of an append leaves a torn last line: it is dropped and that item rescored
    with (part / "items.jsonl").open("a") as f:
        f.write('{"id": "llmbar-natural:3", "subset": "llmb')
    resumed = run(_cfg(tiny_rm_dir, part, data_dir=data_dir, limit=4, chunk_size=4))
    assert (resumed.reused, resumed.scored_now) == (12, 8)
    assert len(_lines(part / "items.jsonl")) == 20
    a = json.loads((tmp_path / "whole" / "summary.json").read_text())
    b = json.loads((part / "summary.json").read_text())
    assert a["results"] == b["results"] and whole.summary["results"] == b["results"]
    assert b["timing"]["items_reused"] == 12
    # a finished run is not rescored at all
    again = run(_cfg(tiny_rm_dir, part, data_dir=data_dir, limit=4, chunk_size=4))
    assert (again.reused, again.scored_now) == (20, 0) and again.summary["results"] == a["results"]


def test_sigkilled_cli_run_resumes_without_rescoring(tiny_rm_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    """A real kill (SIGKILL, no clean-up) of ``rmbench run`` part-way, then the same command again."""
    import signal
    import time

    out = tmp_path / "killed"
    args = [sys.executable, "-m", "rmbench.cli", "run", "--model", str(tiny_rm_dir), "--task", "llmbar",
            "--data-dir", str(data_dir), "--limit", "30", "--chunk-size", "2", "--n-bootstrap", "300",
            "--out", str(out), "--quiet"]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    items = out / "items.jsonl"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if items.exists() and items.read_text().count("\n") >= 10:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    assert proc.wait(timeout=60) == -signal.SIGKILL, "the run finished before it could be killed"
    before = {it["id"]: it for it in _lines(items)}
    assert 10 <= len(before) < 150 and not (out / "summary.json").exists()
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    after = _lines(items)
    assert len(after) == 150 and len({it["id"] for it in after}) == 150  # each item once
    assert [it["id"] for it in after[: len(before)]] == list(before)  # kept, not rewritten or rescored
    summary = json.loads((out / "summary.json").read_text())
    assert summary["timing"]["items_reused"] == len(before)
    whole = run(_cfg(tiny_rm_dir, tmp_path / "whole", data_dir=data_dir, limit=30))
    assert summary["results"] == whole.summary["results"]


def test_resume_refuses_another_model_or_changed_settings(
    tiny_rm_dir: Path, tiny_lm_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    run(_cfg(tiny_rm_dir, out, data_dir=data_dir, limit=1))
    with pytest.raises(UserError, match="different configuration"):
        run(_cfg(tiny_lm_dir, out, data_dir=data_dir, limit=1, kind="likelihood"))
    with pytest.raises(UserError, match="different configuration"):
        run(_cfg(tiny_rm_dir, out, data_dir=data_dir, limit=1, max_length=64))
    run(_cfg(tiny_lm_dir, out, data_dir=data_dir, limit=1, kind="likelihood", overwrite=True))


def test_chunk_size_defaults() -> None:
    assert chunk_size_for(RunConfig.from_flat(task="t", model="m", kind="scalar")) == 64
    assert chunk_size_for(RunConfig.from_flat(task="t", model="m", kind="judge")) == 8
    assert chunk_size_for(RunConfig.from_flat(task="t", model="m", kind="judge", backend="vllm")) == 64
    assert chunk_size_for(RunConfig.from_flat(task="t", model="m", kind="scalar", chunk_size=3)) == 3
    with pytest.raises(UserError, match="at least 1"):
        chunk_size_for(RunConfig.from_flat(task="t", model="m", kind="scalar", chunk_size=0))


def test_auto_kind_follows_the_task(tiny_rm_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    assert auto_kind("./m", ["judge"]) == "judge" and auto_kind("./m", ["process", "critic"]) == "process"
    assert auto_kind("baseline:length", ["scalar", "judge"]) == "baseline"
    assert auto_kind("x", ["scalar"], scores_file=Path("s.jsonl")) == "precomputed"
    outcome = run(_cfg(tiny_rm_dir, tmp_path / "auto", data_dir=data_dir, limit=1, kind="auto"))
    assert outcome.summary["config"]["kind"] == "scalar"  # llmbar lists scalar first


# ------------------------------------------------------------------------------ batch size


@pytest.mark.parametrize("kind", ["scalar", "likelihood"])
def test_scores_at_batch_size_1_and_16_agree(
    kind: str, tiny_rm_dir: Path, tiny_lm_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    model = tiny_rm_dir if kind == "scalar" else tiny_lm_dir
    runs = {
        bs: _lines(run(_cfg(model, tmp_path / f"bs{bs}", data_dir=data_dir, limit=4, kind=kind, max_batch_size=bs)).run_dir
                   / "items.jsonl")
        for bs in (1, 16)
    }
    one = {it["id"]: it["scores"] for it in runs[1]}
    sixteen = {it["id"]: it["scores"] for it in runs[16]}
    assert one.keys() == sixteen.keys() and len(one) == 20
    diffs = [abs(one[i][k] - sixteen[i][k]) for i in one for k in ("chosen", "rejected")]
    assert max(diffs) < 1e-4


# ------------------------------------------------------------------------------ your own preference file


def _write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


ROWS = [
    {"question": f"Question {i}?", "good": "A careful, correct answer " * (1 + i % 3), "bad": "Wrong.", "area": ["math", "chat"][i % 2]}
    for i in range(8)
]


def test_pairs_task_with_a_column_mapping_on_the_command_line(tiny_rm_dir: Path, tmp_path: Path) -> None:
    from rmbench.cli.commands import app

    data = tmp_path / "prefs.csv"
    _write_csv(data, ROWS)
    out = tmp_path / "pairs-run"
    args = [
        "run", "--model", str(tiny_rm_dir), "--task", "pairs", "--data-file", str(data),
        "--field", "prompt=question", "--field", "chosen=good", "--field", "rejected=bad", "--field", "subset=area",
        "--out", str(out), "--n-bootstrap", "200", "--quiet",
    ]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    s = json.loads((out / "summary.json").read_text())
    assert s["data"]["n_items"] == 8 and set(s["results"]["subsets"]) == {"math", "chat"}
    # the length baseline prefers the longer (here: chosen) answer every time
    assert s["results"]["overall"]["baselines"]["length"]["accuracy"]["value"] == 1.0


# ------------------------------------------------------------------------------ bad input: exit 2, no traceback


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The console entry point (``rmbench.cli.commands:main``), where user errors become exit code 2."""
    return subprocess.run([sys.executable, "-m", "rmbench.cli", *args], capture_output=True, text=True, timeout=300)


def _user_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    text = " ".join(result.stderr.split())  # rich may wrap long lines
    for needle in needles:
        assert needle in text, text


PAIRS = ("--task", "pairs", "--model", "baseline:length", "--kind", "baseline", "--quiet")


def test_missing_data_file(tmp_path: Path) -> None:
    result = _cli("run", *PAIRS, "--data-file", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o"))
    _user_error(result, "nope.jsonl: data file not found")


def test_malformed_jsonl_names_file_and_line(tmp_path: Path) -> None:
    data = tmp_path / "prefs.jsonl"
    good = json.dumps({"prompt": "p", "chosen": "a", "rejected": "b"})
    data.write_text(f"{good}\n{good}\n{{not json\n")
    _user_error(_cli("run", *PAIRS, "--data-file", str(data), "--out", str(tmp_path / "o")), "prefs.jsonl:3: invalid JSON")


def test_record_missing_a_field_names_file_line_and_field(tmp_path: Path) -> None:
    data = tmp_path / "prefs.jsonl"
    data.write_text(
        json.dumps({"prompt": "p", "chosen": "a", "rejected": "b"}) + "\n" + json.dumps({"prompt": "p", "chosen": "a"}) + "\n"
    )
    _user_error(
        _cli("run", *PAIRS, "--data-file", str(data), "--out", str(tmp_path / "o")), "prefs.jsonl:2: field 'rejected': missing"
    )


def test_empty_file(tmp_path: Path) -> None:
    data = tmp_path / "empty.jsonl"
    data.write_text("")
    result = _cli("run", *PAIRS, "--data-file", str(data), "--out", str(tmp_path / "o"))
    _user_error(result, "empty.jsonl: file holds no records")


def test_model_path_that_does_not_exist(tmp_path: Path) -> None:
    data = tmp_path / "prefs.jsonl"
    data.write_text(json.dumps({"prompt": "p", "chosen": "a", "rejected": "b"}) + "\n")
    missing = tmp_path / "no-such-model"
    result = _cli("run", "--task", "pairs", "--model", str(missing), "--data-file", str(data), "--out", str(tmp_path / "o"),
                  "--quiet")  # fmt: skip
    _user_error(result, "model folder not found", "no-such-model")


def test_unknown_column_in_the_mapping(tmp_path: Path) -> None:
    data = tmp_path / "prefs.csv"
    _write_csv(data, ROWS[:2])
    result = _cli("run", *PAIRS, "--data-file", str(data), "--field", "prompt=questoin", "--field", "chosen=good",
                  "--field", "rejected=bad", "--out", str(tmp_path / "o"))  # fmt: skip
    _user_error(result, "prefs.csv:2: field 'questoin': missing", "record has: area, bad, good, question")


def test_default_run_dir_depends_on_the_data_file() -> None:
    """Two --data-file runs of the 'pairs' task with one model went to one default folder, so the second
    was refused ('scored on different content'); built-in tasks without overrides keep their folder."""
    from rmbench.runner import RunConfig, default_run_dir

    a = RunConfig.from_flat(task="pairs", model="m", task_overrides={"source": {"local": {"files": ["/a.csv"]}}})
    b = RunConfig.from_flat(task="pairs", model="m", task_overrides={"source": {"local": {"files": ["/b.jsonl"]}}})
    assert default_run_dir(a, "pairs") != default_run_dir(b, "pairs")
    assert default_run_dir(RunConfig.from_flat(task="llmbar", model="m"), "llmbar").name.startswith("m-scalar-")
