"""``rmbench run --help`` documents every option and keeps ``[@revision]``; a refused resume names the
setting that differs, old and new value."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from rmbench.cli.commands import app
from rmbench.errors import UserError


def _help() -> str:
    result = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def test_run_help_keeps_the_revision_bracket() -> None:
    assert "Hub id[@revision]" in _help()


@pytest.mark.parametrize("option, words", [
    ("--seed", "Seed for every random choice"), ("--device", "auto | cpu | cuda"),
    ("--max-length", "Tokens per sequence"), ("--truncation-side", "which end of a too-long sequence is cut"),
    ("--n-bootstrap", "Bootstrap resamples per interval"), ("--quiet", "No progress bar"),
])  # fmt: skip
def test_run_options_have_help(option: str, words: str) -> None:
    text = _help()
    assert option in text and words in text


def test_resume_refusal_names_the_setting(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["run", "--quiet", "--task", "llmbar", "--bundled", "--limit", "2", "--model", "baseline:length",
            "--n-bootstrap", "50", "--out", str(out)]
    assert CliRunner().invoke(app, [*args, "--max-length", "4096"]).exit_code == 0
    result = CliRunner().invoke(app, [*args, "--max-length", "2048"])
    assert isinstance(result.exception, UserError)
    assert "config.max_length: 4096 -> 2048" in str(result.exception)
