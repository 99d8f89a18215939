"""What report.md and the terminal say is what the run did: truncation counted and warned, the chat
template hash that run.json holds, one truncation side and one invalid policy for step tasks, and the
notes (length baseline, warnings) in the terminal too. Real runs of tiny models through the CLI."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from rmbench.reports.run_report import render_terminal


def _run(args: list[str]):  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from rmbench.cli.commands import app

    return CliRunner().invoke(app, ["run", "--quiet", "--n-bootstrap", "200", *args])


def _terminal(summary: dict, width: int = 80) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(render_terminal(summary, width=width))
    return console.export_text()


def test_truncation_is_counted_reported_and_warned(tiny_rm_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    r = _run(["--model", str(tiny_rm_dir), "--kind", "scalar", "--task", "llmbar", "--bundled", "--limit", "6",
              "--max-length", "64", "--out", str(out)])
    assert r.exit_code == 0, r.output
    run = json.loads((out / "run.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    res = summary["results"]
    assert res["overall"]["truncated"] == 6 and res["overall"]["truncated_sequences"] == 12
    assert all(b["truncated"] == b["n_items"] for b in res["subsets"].values())
    assert res["warnings"][0].startswith("6 of 6 items had input cut at the maximum length (on the left)")
    report = (out / "report.md").read_text()
    assert "| invalid | truncated |" in report
    assert "**Warning:** 6 of 6 items had input cut" in report
    # the backend writes chat_template_sha256; the report showed nothing under the old key
    assert f"chat template sha256: `{run['model']['chat_template_sha256']}`" in report
    text = _terminal(summary)
    assert "Warning: 6 of 6 items had input cut" in " ".join(text.split())
    assert "truncated" in text


def test_step_task_states_one_truncation_side_and_one_invalid_policy(
    tiny_lm_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "process"
    r = _run(["--model", str(tiny_lm_dir), "--kind", "process", "--task", "processbench", "--data-dir", str(data_dir),
              "--subset", "gsm8k", "--limit", "4", "--max-length", "48", "--out", str(out)])
    assert r.exit_code == 0, r.output
    summary = json.loads((out / "summary.json").read_text())
    report = (out / "report.md").read_text()
    assert "truncation side: `right`" in report and "truncation side: `left`" not in report
    assert ("invalid items count as **wrong** in acc_erroneous, acc_correct, argmin_acc_erroneous; "
            "step_auroc (and metrics derived from them) need step scores and leave invalid items out") in report
    items = [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines()]
    invalid_erroneous = [it for it in items if it["invalid"] and it["extra"]["gold_first_error"] is not None]
    assert invalid_erroneous, "max length 48 should cut some solution"
    assert all(it["metrics"]["argmin_acc_erroneous"] == 0.0 for it in invalid_erroneous)  # counted wrong, as stated
    assert summary["results"]["overall"]["truncated"] == sum(bool(it["extra"].get("truncated")) for it in items) > 0
