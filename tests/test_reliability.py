"""Fault injection on the run directory: what a kill, a stray file, a hand edit, a second process or a bad
option can do to a run (docs/reliability.md lists the guarantees these tests pin).

Everything is real: ``rmbench`` runs in subprocesses (killed with SIGKILL where a kill is the fault), on
the upstream LLMBar files in ``$RMBENCH_DATA_DIR``, with the ``baseline:length`` / ``baseline:random``
scorers (no model download, a run takes a second). Property-based tests (hypothesis) feed the items
reader arbitrary bytes and torn files.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rmbench.datatypes import ItemResult
from rmbench.errors import RecordError, UserError
from rmbench.results.files import ItemWriter, atomic_write_text, read_items
from rmbench.results.run_dir import LOCK_FILE, lock_run_dir
from rmbench.runner import RunConfig, run

LLMBAR = ("--task", "llmbar", "--limit", "4", "--n-bootstrap", "200", "--quiet")


def _cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rmbench.cli", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd, env=env)


def _user_error(result: subprocess.CompletedProcess[str], *needles: str, code: int = 2) -> str:
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    text = " ".join((result.stdout + result.stderr).split())
    for needle in needles:
        assert needle in text, text
    return text


def _run(out: Path, model: str = "baseline:length", **kw: Any) -> Any:
    base: dict[str, Any] = {"task": "llmbar", "model": model, "kind": "baseline", "limit": 4, "n_bootstrap": 200,
                            "data_dir": Path(os.environ["RMBENCH_DATA_DIR"])}
    base.update(kw)
    return run(RunConfig.from_flat(out_dir=out, **base))


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def _rewrite(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture(autouse=True)
def _data(data_dir: Path) -> None:  # every run here reads the upstream LLMBar files
    assert os.environ.get("RMBENCH_DATA_DIR")


# ------------------------------------------------------------------ 1. --overwrite deletes only rmbench's files


def test_overwrite_keeps_the_users_other_files(tmp_path: Path) -> None:
    out = tmp_path / "run"
    _run(out)
    (out / "thesis.txt").write_text("four years of work")
    (out / "notes").mkdir()
    (out / "notes" / "a.md").write_text("keep me")
    outcome = _run(out, overwrite=True)
    assert outcome.scored_now == 20 and outcome.reused == 0
    assert (out / "thesis.txt").read_text() == "four years of work"
    assert (out / "notes" / "a.md").read_text() == "keep me"


def test_overwrite_refuses_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    (tmp_path / "thesis.txt").write_text("four years of work")
    (tmp_path / "src").mkdir()
    res = _cli("run", *LLMBAR, "--model", "baseline:length", "--out", ".", "--overwrite", cwd=tmp_path)
    _user_error(res, "is not a run directory", "thesis.txt", "nothing was deleted")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src", "thesis.txt"]  # not even a lock file


def test_symlink_and_file_as_out_are_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    _run(real)
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    with pytest.raises(UserError, match="symbolic link"):
        _run(link, overwrite=True)
    assert (real / "items.jsonl").exists()
    afile = tmp_path / "afile.txt"
    afile.write_text("x")
    with pytest.raises(UserError, match="is a file, not a directory"):
        _run(afile, overwrite=True)
    assert afile.read_text() == "x"


# ------------------------------------------------------------------ 2. resume reuses only lines of its identity


def test_missing_run_json_does_not_let_another_model_reuse_items(tmp_path: Path) -> None:
    out = tmp_path / "run"
    _run(out, model="baseline:random")
    (out / "run.json").unlink()
    res = _cli("run", *LLMBAR, "--model", "baseline:length", "--out", str(out))
    _user_error(res, "items.jsonl:1", "identity", "written by another run configuration", "nothing was reused")
    assert not (out / "run.json").exists()  # nothing was started


def test_lines_without_identity_and_without_run_json_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "run"
    _run(out)
    rows = _lines(out / "items.jsonl")
    for r in rows:
        del r["identity"]  # as written by rmbench before identities
    _rewrite(out / "items.jsonl", rows)
    (out / "run.json").unlink()
    with pytest.raises(UserError, match="carry no run identity"):
        _run(out)


def test_legacy_lines_resume_under_their_run_json(tmp_path: Path) -> None:
    out = tmp_path / "run"
    _run(out)
    rows = _lines(out / "items.jsonl")
    for r in rows:
        del r["identity"]
    _rewrite(out / "items.jsonl", rows[:-3])
    outcome = _run(out)
    assert (outcome.scored_now, outcome.reused) == (3, 17)


# ------------------------------------------------------------------ 3. report / leaderboard trust no line


def test_report_refuses_appended_made_up_ids(tmp_path: Path) -> None:
    out = tmp_path / "run"
    _run(out)
    rows = _lines(out / "items.jsonl")
    fake = [{**rows[0], "id": f"fake:{i}", "cluster": f"fake:{i}"} for i in range(50)]
    _rewrite(out / "items.jsonl", rows + fake)
    _user_error(_cli("report", str(out)), "items.jsonl:21", "field 'id'", "unknown item id 'fake:0'")
    _user_error(_cli("leaderboard", "build", str(out), "--out", str(tmp_path / "lb.json")), "unknown item id")


def test_report_refuses_a_duplicate_id_with_other_content(tmp_path: Path) -> None:
    out = tmp_path / "run"
    _run(out)
    rows = _lines(out / "items.jsonl")
    _rewrite(out / "items.jsonl", [*rows, {**rows[0], "example_hash": "0" * 16}])
    _user_error(_cli("report", str(out)), "items.jsonl:21", "example_hash", "already recorded at line 1")


@pytest.mark.parametrize("edit", ["metric", "score", "baseline"])
def test_report_regrades_items_and_finds_edits(tmp_path: Path, edit: str) -> None:
    out = tmp_path / "run"
    _run(out)
    before = (out / "summary.json").read_text()
    rows = _lines(out / "items.jsonl")
    wrong = next(r for r in rows if r["metrics"]["accuracy"] == 0.0)
    if edit == "metric":
        wrong["metrics"]["accuracy"] = 1.0
    elif edit == "score":
        wrong["scores"]["chosen"] = 1e9  # the score now says right while the metric says wrong
    else:
        wrong["baselines"]["length"]["accuracy"] = 1.0
    _rewrite(out / "items.jsonl", rows)
    _user_error(_cli("report", str(out)), f"item '{wrong['id']}'", "re-graded")
    assert (out / "summary.json").read_text() == before  # no number was written


def test_leaderboard_verify_regrades_items(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    _run(a)
    _run(b, model="baseline:random")
    board = tmp_path / "lb.json"
    assert _cli("leaderboard", "build", str(a), str(b), "--out", str(board), "--n-bootstrap", "200").returncode == 0
    assert _cli("leaderboard", "verify", str(board)).returncode == 0
    rows = _lines(a / "items.jsonl")
    wrong = next(r for r in rows if r["metrics"]["accuracy"] == 0.0)
    wrong["metrics"]["accuracy"] = 1.0
    _rewrite(a / "items.jsonl", rows)
    res = _cli("leaderboard", "verify", str(board))
    _user_error(res, f"item '{wrong['id']}'", "re-graded", code=1)
    _rewrite(a / "items.jsonl", [*rows, {**rows[0], "id": "fake:1"}])
    _user_error(_cli("leaderboard", "verify", str(board)), "unknown item id 'fake:1'", code=1)


def test_report_without_data_warns_that_metrics_were_not_regraded(tmp_path: Path) -> None:
    out = tmp_path / "run"
    _run(out)
    manifest = json.loads((out / "run.json").read_text())
    manifest["data"]["source"]["location"] = str(tmp_path / "gone")
    (out / "run.json").write_text(json.dumps(manifest))
    env = {k: v for k, v in os.environ.items() if k != "RMBENCH_DATA_DIR"}
    res = _cli("report", str(out), env=env)
    assert res.returncode == 0, res.stderr
    assert "not re-graded" in " ".join(res.stderr.split())


# ------------------------------------------------------------------ 8. options are checked before any work


@pytest.mark.parametrize(("option", "value", "needle"), [
    ("--n-bootstrap", "0", "--n-bootstrap 0: must be at least 1"),
    ("--seed", "-1", "--seed -1: must be at least 0"),
    ("--limit", "0", "--limit 0: must be at least 1"),
    ("--max-length", "0", "--max-length 0"),
    ("--token-budget", "-5", "--token-budget -5"),
    ("--max-batch-size", "0", "--max-batch-size 0"),
    ("--chunk-size", "0", "--chunk-size 0"),
])
def test_invalid_options_fail_before_loading_anything(tmp_path: Path, option: str, value: str, needle: str) -> None:
    out = tmp_path / "run"
    _user_error(_cli("run", *LLMBAR, "--model", "baseline:length", "--out", str(out), option, value), needle)
    assert not out.exists()


def test_runconfig_checks_its_fields() -> None:
    with pytest.raises(UserError, match="--confidence"):
        RunConfig.from_flat(task="t", model="m", confidence=1.5)
    with pytest.raises(UserError, match="--tie-policy"):
        RunConfig.from_flat(task="t", model="m", tie_policy="maybe")
    RunConfig.from_flat(task="t", model="m")  # the defaults are valid


def test_statistics_settings_do_not_block_a_resume(tmp_path: Path) -> None:
    out = tmp_path / "run"
    _run(out, n_bootstrap=200)
    again = _run(out, n_bootstrap=300, confidence=0.9)
    assert (again.scored_now, again.reused) == (0, 20)
    assert again.summary["config"]["n_bootstrap"] == 300
    assert json.loads((out / "run.json").read_text())["config"]["confidence"] == 0.9
    res = _cli("report", str(out), "--n-bootstrap", "250")
    assert res.returncode == 0, res.stderr
    assert json.loads((out / "summary.json").read_text())["config"]["n_bootstrap"] == 250


# ------------------------------------------------------------------ 9. a last line without its newline


def test_complete_last_line_without_newline_is_ended_before_appending(tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = _run(out)
    raw = (out / "items.jsonl").read_bytes().splitlines(keepends=True)
    (out / "items.jsonl").write_bytes(b"".join(raw[:-5]).rstrip(b"\n"))  # 15 lines, the last without "\n"
    again = _run(out)
    assert (again.scored_now, again.reused) == (5, 15)
    assert len(_lines(out / "items.jsonl")) == 20  # every line parses
    assert again.summary["results"]["overall"] == first.summary["results"]["overall"]
    assert _run(out).scored_now == 0  # and later runs keep working


def test_item_writer_repairs_before_appending(tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    item = ItemResult(id="a", subset="s", cluster="a", example_hash="h", metrics={"accuracy": 1.0}, scores={})
    path.write_text(json.dumps(item.to_dict()))  # no newline
    with ItemWriter(path, identity="x") as w:
        w.write_many([ItemResult(**{**item.to_dict(), "id": "b", "cluster": "b"})])
    assert sorted(read_items(path).items) == ["a", "b"]
    path.write_text(json.dumps(item.to_dict()) + "\n" + '{"id": "b", "sub')  # torn tail
    with ItemWriter(path) as w:
        w.write_many([ItemResult(**{**item.to_dict(), "id": "c", "cluster": "c"})])
    assert sorted(read_items(path).items) == ["a", "c"]


# ------------------------------------------------------------------ 10. two processes, one run directory


_HOLD_LOCK = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from rmbench.results.run_dir import lock_run_dir
    with lock_run_dir(Path(sys.argv[1])):
        Path(sys.argv[2]).write_text("locked")
        time.sleep(120)
""")


def _wait_for(path: Path, proc: subprocess.Popen[Any], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the child never reached its mark"
        time.sleep(0.05)


def test_second_process_is_told_who_holds_the_run_directory(tmp_path: Path) -> None:
    out, mark = tmp_path / "run", tmp_path / "mark"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(out), str(mark)])
    try:
        _wait_for(mark, holder)
        res = _cli("run", *LLMBAR, "--model", "baseline:length", "--out", str(out))
        _user_error(res, "is in use by", f"pid {holder.pid}", "another --out")
        res = _cli("run", *LLMBAR, "--model", "baseline:length", "--out", str(out), "--overwrite")
        _user_error(res, "is in use by")
        assert not (out / "items.jsonl").exists()
    finally:
        holder.kill()
        holder.wait()
    assert _cli("run", *LLMBAR, "--model", "baseline:length", "--out", str(out)).returncode == 0  # kill freed it


def test_two_concurrent_runs_never_interleave(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = [sys.executable, "-m", "rmbench.cli", "run", "--task", "llmbar", "--limit", "30", "--n-bootstrap", "200",
            "--quiet", "--model", "baseline:length", "--out", str(out), "--chunk-size", "1"]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=300) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes in ([0, 0], [0, 2]), results
    if codes == [0, 2]:
        assert any("is in use by" in err for _, err in results)
    ids = [r["id"] for r in _lines(out / "items.jsonl")]
    assert len(ids) == len(set(ids)) == 150  # each item scored once: the loser scored nothing


def test_lock_is_reentrant_for_a_later_process_after_release(tmp_path: Path) -> None:
    with lock_run_dir(tmp_path):
        info = json.loads((tmp_path / LOCK_FILE).read_text())
        assert info["pid"] == os.getpid()
    with lock_run_dir(tmp_path):
        pass


# ------------------------------------------------------------------ 13. output files respect the umask


def test_outputs_respect_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "x.json", "{}")
        assert stat.S_IMODE((tmp_path / "x.json").stat().st_mode) == 0o644
        out = tmp_path / "run"
        _run(out)
        for name in ("run.json", "summary.json", "report.md", "items.jsonl"):
            assert stat.S_IMODE((out / name).stat().st_mode) == 0o644, name
        board = tmp_path / "lb.json"
        assert _cli("leaderboard", "build", str(out), "--out", str(board), "--n-bootstrap", "200").returncode == 0
        assert _cli("leaderboard", "render", str(board), "--out", str(tmp_path / "lb.html")).returncode == 0
        for p in (board, tmp_path / "lb.html"):
            assert stat.S_IMODE(p.stat().st_mode) == 0o644, p
        os.umask(0o077)
        atomic_write_text(tmp_path / "private.json", "{}")
        assert stat.S_IMODE((tmp_path / "private.json").stat().st_mode) == 0o600
    finally:
        os.umask(old)


# ------------------------------------------------------------------ kill -9 during the summary write

# The child runs the real CLI; os.replace is wrapped so that, when summary.json is about to be replaced
# (its temp file complete, the rename not done), it marks the moment and sleeps until it is killed.
_KILL_AT_SUMMARY = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    real_replace = os.replace
    def replace(src, dst, *a, **k):
        if str(dst).endswith("summary.json"):
            Path(os.environ["MARK"]).write_text("at summary")
            time.sleep(120)
        return real_replace(src, dst, *a, **k)
    os.replace = replace
    from rmbench.cli.commands import main
    sys.argv = ["rmbench", *sys.argv[1:]]
    main()
""")


def _kill_at_summary(tmp_path: Path, *args: str) -> None:
    mark = tmp_path / "mark"
    mark.unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", _KILL_AT_SUMMARY, *args], env={**os.environ, "MARK": str(mark)})
    try:
        _wait_for(mark, proc)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL


def test_kill_during_summary_write_leaves_old_or_no_summary(tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = ("run", *LLMBAR, "--model", "baseline:length", "--out", str(out))
    _kill_at_summary(tmp_path, *cmd)
    assert not (out / "summary.json").exists()  # absent, never torn
    assert len(_lines(out / "items.jsonl")) == 20  # every scored item was kept
    res = _cli(*cmd)
    assert res.returncode == 0 and "0 items scored, 20 reused" in res.stderr, res.stderr
    complete = (out / "summary.json").read_text()
    json.loads(complete)

    _kill_at_summary(tmp_path, "report", str(out), "--n-bootstrap", "300")
    assert (out / "summary.json").read_text() == complete  # the old complete file
    assert [p.name for p in out.iterdir() if p.name.startswith(".summary.json.")]  # the temp the kill left
    assert _cli("report", str(out)).returncode == 0
    assert json.loads((out / "summary.json").read_text())["config"]["n_bootstrap"] in (200, 300)
    assert not [p.name for p in out.iterdir() if p.name.startswith(".summary.json.")]  # cleaned under the lock


# ------------------------------------------------------------------ property-based: the items reader


def _item_line(i: int) -> bytes:
    item = ItemResult(id=f"i{i}", subset="s", cluster=f"i{i}", example_hash=f"h{i}",
                      metrics={"accuracy": float(i % 2)}, scores={"chosen": i, "rejected": 1.5})
    return (json.dumps(item.to_dict()) + "\n").encode()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400))
def test_reader_raises_only_record_errors_on_arbitrary_bytes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "items.jsonl"
    path.write_bytes(data)
    with contextlib.suppress(RecordError):  # anything else (TypeError, AttributeError, ...) fails the test
        read_items(path)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=st.lists(st.sampled_from([b'{"id": 1}\n', b"[]\n", b"null\n", b'{"id": "x"', b"\xff\xfe\n",
                                        b'{"id":"a","subset":"s","cluster":"a","example_hash":"h","metrics":{"m":"x"},'
                                        b'"scores":{}}\n', b"\n"]), max_size=3),
       good=st.integers(0, 5))
def test_reader_raises_only_record_errors_on_mixed_lines(tmp_path: Path, prefix: list[bytes], good: int) -> None:
    path = tmp_path / "items.jsonl"
    path.write_bytes(b"".join(_item_line(i) for i in range(good)) + b"".join(prefix))
    try:
        read_items(path, repair=True)
    except RecordError as exc:
        assert "items.jsonl:" in str(exc)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(1, 6), cut=st.integers(0, 10_000))
def test_a_torn_tail_is_dropped_and_repaired(tmp_path: Path, n: int, cut: int) -> None:
    lines = [_item_line(i) for i in range(n)]
    full = b"".join(lines)
    cut = cut % (len(full) + 1)
    path = tmp_path / "items.jsonl"
    path.write_bytes(full[:cut])
    ends, complete = 0, 0
    for line in lines:  # a line counts once its JSON is complete, newline or not
        ends += len(line)
        complete += cut >= ends - 1
    got = read_items(path, repair=True)
    assert sorted(got.items) == sorted(f"i{i}" for i in range(complete))
    repaired = path.read_bytes()
    assert repaired == b"".join(lines[:complete])  # torn tail cut, a missing final newline added
    with ItemWriter(path) as w:
        w.write_many([ItemResult.from_dict(json.loads(_item_line(99)))])
    assert len(read_items(path).items) == complete + 1
