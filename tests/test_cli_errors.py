"""How ``rmbench`` ends when it cannot do what was asked (issue 10, item 11): exit codes and one-line errors.

* usage errors of every command family exit 2 with one ``error:`` line (they were 40-line tracebacks
  with exit code 1, the code ``gate`` uses for "regression");
* ``--version`` prints the version, exit 0;
* environment problems (a read-only ``--out``, a full disk) exit 2 with one line naming the path, and
  the items already saved stay usable: the same command resumes from them;
* Ctrl-C (a real SIGINT to a real run) exits 130 saying how many items are saved;
* a bug (any other exception) keeps its traceback.

Most usage-error cases call :func:`rmbench.cli.exit_codes.run_cli` in-process (the function ``main()``
calls); a few go through a real ``python -m rmbench.cli`` subprocess to pin the process exit code.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer

from rmbench import __version__
from rmbench.cli.commands import app
from rmbench.cli.exit_codes import run_cli
from rmbench.results.files import ItemWriter, read_items

# ------------------------------------------------------------------------------------------- helpers


def _main(capsys: pytest.CaptureFixture[str], *args: str, cli_app: typer.Typer = app) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        run_cli(cli_app, list(args))
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 0), out, err


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rmbench.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err, err
    assert lines and lines[0].startswith("error: "), err
    # at most a hint follows the error line
    assert len(lines) == 1 or (len(lines) == 2 and lines[1].strip().startswith("hint:")), err
    return " ".join(err.split())


# ------------------------------------------------------------------------------------- usage errors

USAGE_CASES = {
    "run: unknown option": (["run", "--task", "llmbar", "--bogus"], "No such option: --bogus"),
    "run: missing --task": (["run", "--model", "baseline:length"], "Missing option '--task'"),
    "run: --limit abc": (["run", "--task", "llmbar", "--limit", "abc"], "Invalid value for '--limit'"),
    "report: missing run dir": (["report"], "Missing argument"),
    "report: unknown option": (["report", "x", "--bogus"], "No such option: --bogus"),
    "validate: missing task": (["validate"], "Missing argument"),
    "validate: unknown option": (["validate", "llmbar", "--bogus"], "No such option: --bogus"),
    "list: unknown option": (["list", "--bogus"], "No such option: --bogus"),
    "compare: one run only": (["compare", "a"], "Missing argument"),
    "compare: --n-bootstrap x": (["compare", "a", "b", "--n-bootstrap", "x"], "Invalid value for '--n-bootstrap'"),
    "gate: missing --max-drop": (["gate", "--baseline", "a", "--candidate", "b"], "Missing option '--max-drop'"),
    "gate: --max-drop abc": (["gate", "--baseline", "a", "--candidate", "b", "--max-drop", "abc"],
                             "Invalid value for '--max-drop'"),
    "agree: unknown option": (["agree", "a", "b", "--bogus"], "No such option: --bogus"),
    "leaderboard build: no runs": (["leaderboard", "build"], "Missing argument"),
    "leaderboard verify: no file": (["leaderboard", "verify"], "Missing argument"),
    "leaderboard render: unknown option": (["leaderboard", "render", "x.json", "--bogus"], "No such option"),
    "demo: --limit abc": (["demo", "--limit", "abc"], "Invalid value for '--limit'"),
    "unknown command": (["rnu"], "No such command 'rnu'"),
}


@pytest.mark.parametrize("case", list(USAGE_CASES))
def test_usage_errors_exit_2_with_one_line(case: str, capsys: pytest.CaptureFixture[str]) -> None:
    args, needle = USAGE_CASES[case]
    code, _out, err = _main(capsys, *args)
    assert code == 2, err
    text = _one_error_line(err)
    assert needle in text and "--help" in text, text


def test_usage_error_through_the_console_entry_point() -> None:
    """A real process: exit code 2 (not 1, 'regression' for a CI gate) and no traceback."""
    result = _cli("gate", "--baseline", "a", "--candidate", "b", "--max-drop", "abc")
    assert result.returncode == 2, result.stderr
    assert "Invalid value for '--max-drop'" in _one_error_line(result.stderr)


def test_version_option() -> None:
    result = _cli("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"rmbench {__version__}"


def test_command_group_alone_prints_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _main(capsys, "leaderboard")
    assert code == 2 and "Traceback" not in out + err
    assert "build" in out + err and "verify" in out + err


def test_a_bug_keeps_its_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    buggy = typer.Typer()

    @buggy.command()
    def explode() -> None:
        raise ZeroDivisionError("a bug")

    @buggy.command()
    def other() -> None:  # two commands: the same group layout as rmbench's app
        pass

    with pytest.raises(ZeroDivisionError):
        run_cli(buggy, ["explode"])


# --------------------------------------------------------------------------- environment: OSError


def _pairs_file(folder: Path, n: int) -> Path:
    data = folder / "prefs.jsonl"
    rows = [{"prompt": f"question {i}?", "chosen": "a careful answer " * (1 + i % 5), "rejected": "no."}
            for i in range(n)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return data


PAIRS = ("run", "--task", "pairs", "--model", "baseline:length", "--kind", "baseline", "--quiet",
         "--n-bootstrap", "100")


def _mount_tmpfs(path: Path, options: str) -> bool:
    """A real small file system (root only). Returns False where mounting is not allowed."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    path.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                          capture_output=True).returncode == 0


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.fixture()
def read_only_dir(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder holding a finished half of a run, made read-only: a read-only tmpfs when running as root
    (root ignores permission bits), else permission bits (``chmod 0555``). Yields (folder, reason)."""
    folder = tmp_path / "ro"
    if os.geteuid() == 0:
        if not _mount_tmpfs(folder, "size=4m"):
            pytest.skip("running as root without permission to mount a tmpfs: cannot make a read-only folder")
        yield folder, "Read-only file system"
        _umount(folder)
    else:
        folder.mkdir()
        yield folder, "Permission denied"
        folder.chmod(0o755)


def _make_read_only(folder: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
    else:
        for p in [folder, *folder.rglob("*")]:
            p.chmod(0o555 if p.is_dir() else 0o444)


def test_read_only_out_is_one_line_naming_the_path(read_only_dir: tuple[Path, str], tmp_path: Path) -> None:
    folder, reason = read_only_dir
    data = _pairs_file(tmp_path, 40)
    half = folder / "half"
    first = _cli(*PAIRS, "--data-file", str(data), "--out", str(half), "--limit", "20", "--field", "subset=prompt")
    assert first.returncode == 0, first.stderr
    saved = (half / "items.jsonl").read_bytes()
    shutil.copy(half / "run.json", tmp_path / "run.json.bak")
    _make_read_only(folder)
    # a new run folder inside the read-only one
    result = _cli(*PAIRS, "--data-file", str(data), "--out", str(folder / "new"))
    assert result.returncode == 2, result.stderr
    text = _one_error_line(result.stderr)
    assert f"{folder / 'new'}: {reason}" in text, text
    # a gate report written there
    report = _cli("gate", "--baseline", str(half), "--candidate", str(half), "--max-drop", "1",
                  "--md", str(folder / "gate.md"), "--n-bootstrap", "200")
    assert report.returncode == 2, report.stderr
    assert f"{folder / 'gate.md'}: {reason}" in _one_error_line(report.stderr)
    assert (half / "items.jsonl").read_bytes() == saved  # nothing already saved is touched


def test_full_disk_keeps_saved_items_and_resumes(tmp_path: Path) -> None:
    """A real full disk: a 64 KiB tmpfs (needs root and permission to mount; skipped otherwise, and
    ``test_item_writer_on_dev_full`` covers the writer's error path with ``/dev/full``)."""
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "size=64k"):
        pytest.skip("cannot mount a small tmpfs here (not root, or not allowed)")
    try:
        data = _pairs_file(tmp_path, 600)
        out = disk / "run"
        result = _cli(*PAIRS, "--data-file", str(data), "--out", str(out), "--chunk-size", "16")
        assert result.returncode == 2, result.stderr
        text = _one_error_line(result.stderr)
        assert "No space left on device" in text and "the disk is full" in text, text
        assert str(out) in text
        kept = read_items(out / "items.jsonl").items  # a torn last line is dropped, nothing else
        assert 0 < len(kept) < 600
        moved = tmp_path / "moved"
        shutil.copytree(out, moved)
    finally:
        _umount(disk)
    resumed = _cli(*PAIRS, "--data-file", str(data), "--out", str(moved))
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads((moved / "summary.json").read_text())
    assert summary["timing"]["items_reused"] == len(kept) and summary["data"]["n_items"] == 600
    fresh = _cli(*PAIRS, "--data-file", str(data), "--out", str(tmp_path / "fresh"))
    assert fresh.returncode == 0, fresh.stderr
    assert json.loads((tmp_path / "fresh" / "summary.json").read_text())["results"] == summary["results"]


def test_item_writer_on_dev_full() -> None:
    """``/dev/full`` answers every write with ENOSPC: the writer's error names the file."""
    from rmbench.datatypes import ItemResult

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    item = ItemResult.from_dict(json.loads(_ITEM_LINE))
    with pytest.raises(OSError) as info, ItemWriter(Path("/dev/full")) as writer:
        writer.write_many([item] * 4)
    assert info.value.filename == "/dev/full" and info.value.strerror == "No space left on device"


def test_os_error_outside_the_writers_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    locked = typer.Typer()

    @locked.command()
    def read() -> None:
        raise PermissionError(13, "Permission denied", str(tmp_path / "secret.json"))

    @locked.command()
    def other() -> None:
        pass

    code, _out, err = _main(capsys, "read", cli_app=locked)
    assert code == 2
    assert f"{tmp_path / 'secret.json'}: Permission denied" in _one_error_line(err)


# --------------------------------------------------------------------------------------------- Ctrl-C


def test_ctrl_c_says_how_many_items_are_saved(tiny_rm_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    """A real SIGINT to a real run part-way: exit 130, one line with the count, and the rerun resumes."""
    out = tmp_path / "run"
    args = [sys.executable, "-m", "rmbench.cli", "run", "--model", str(tiny_rm_dir), "--task", "llmbar",
            "--data-dir", str(data_dir), "--limit", "30", "--chunk-size", "2", "--n-bootstrap", "200",
            "--out", str(out), "--quiet"]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    items = out / "items.jsonl"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if items.exists() and items.read_text().count("\n") >= 6:
            proc.send_signal(signal.SIGINT)
            break
        time.sleep(0.02)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    saved = len(read_items(items).items)
    assert 6 <= saved < 150
    assert f"interrupted: {saved} of 150 items saved in {out}, rerun the same command to resume" in " ".join(
        err.split()
    ), err
    assert "Traceback" not in err
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "summary.json").read_text())["timing"]["items_reused"] == saved


_ITEM_LINE = json.dumps({
    "id": "x:1", "subset": "x", "cluster": "x:1", "example_hash": "0", "metrics": {"accuracy": 1.0},
    "scores": {"chosen": 1.0, "rejected": 0.0},
})
