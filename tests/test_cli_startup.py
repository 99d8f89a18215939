"""``rmbench --help`` must stay fast: no torch, transformers, datasets or scipy at import time."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "transformers", "datasets", "scipy", "vllm", "pandas")


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import sys, json\n"
        "from typer.testing import CliRunner\n"
        "from rmbench.cli.commands import app\n"
        "r = CliRunner().invoke(app, ['--help'])\n"
        "assert r.exit_code == 0, r.output\n"
        "for sub in ['run', 'list', 'report', 'validate']:\n"
        "    assert CliRunner().invoke(app, [sub, '--help']).exit_code == 0\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_console_script_help_exit_code() -> None:
    out = subprocess.run([sys.executable, "-m", "rmbench.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "run" in out.stdout


def test_user_error_exit_code_2_no_traceback() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "rmbench.cli", "run", "--task", "llmbarr", "--model", "baseline:length", "--kind", "baseline"],
        capture_output=True, text=True,
    )
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "unknown task 'llmbarr'" in out.stderr
    assert "did you mean 'llmbar'" in out.stderr
