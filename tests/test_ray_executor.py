"""``rmbench run --executor ray`` (issue 17 item 3) on a real local Ray cluster: a head node on 127.0.0.1
with two CPU workers, started once for the module (``ray start --block`` in its own session, stopped by
signalling that session's processes), and the tiny reward model on five LLMBar items in two shards.

Skipped when Ray is not installed, except under CI (``CI`` set), where Ray comes with the dev extra.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rmbench.config import RunConfig
from rmbench.runner import run

REPO = Path(__file__).resolve().parents[1]
LLMBAR = ("--task", "llmbar", "--limit", "1", "--n-bootstrap", "200", "--quiet")

try:
    import ray  # noqa: F401
except ImportError:
    if os.environ.get("CI"):
        raise  # CI installs the dev extra, which has ray: a missing Ray there is a failure, not a skip
    pytest.skip("ray is not installed (pip install 'rmbench[ray]')", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """The address of a local two-CPU Ray cluster whose workers import this checkout's rmbench."""
    temp = Path(tempfile.mkdtemp(prefix="rmb-ray-", dir="/tmp"))  # short: Ray's socket paths live under it
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    log = (temp / "ray-start.log").open("w")
    head = subprocess.Popen(
        [_ray_command(), "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(port), "--num-cpus", "2",
         "--disable-usage-stats", "--include-dashboard", "false", "--temp-dir", str(temp / "ray")],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    try:
        _wait_until_started(head, temp / "ray-start.log")
        yield f"127.0.0.1:{port}"
    finally:
        _stop(head)
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


def _ray_command() -> str:
    """The ``ray`` script of this Python's environment (CI's venv may not be on PATH), else the one on PATH."""
    local = Path(sys.executable).parent / "ray"
    return str(local) if local.is_file() else "ray"


def _wait_until_started(head: subprocess.Popen[bytes], log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "Ray runtime started" in log.read_text(errors="replace"):
            return
        if head.poll() is not None:
            pytest.fail(f"ray start exited with {head.returncode}: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.5)
    pytest.fail(f"the Ray head did not start within {timeout:.0f} s")


def _stop(head: subprocess.Popen[bytes]) -> None:
    """Stop the cluster this module started (its session's processes only, never other Ray clusters)."""
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(head.pid, sig)
        except ProcessLookupError:
            return
        try:
            head.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="module")
def unsharded(tiny_rm_dir: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ray-reference") / "run"
    run(RunConfig.from_flat(task="llmbar", model=str(tiny_rm_dir), kind="scalar", limit=1, n_bootstrap=200,
                            data_dir=data_dir, out_dir=out))
    return out


def _ray_run(model: Path, data_dir: Path, out: Path, address: str, **env: str) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "rmbench.cli", "run", *LLMBAR, "--model", str(model), "--data-dir", str(data_dir),
            "--executor", "ray", "--ray-address", address, "--shards", "2", "--chunk-size", "1", "--out", str(out)]
    return subprocess.run(args, capture_output=True, text=True, timeout=600, env={**os.environ, **env})


def _said(result: subprocess.CompletedProcess[str]) -> str:
    return " ".join(result.stderr.split())  # the terminal may wrap lines


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _check_equal_to_unsharded(out: Path, unsharded: Path) -> None:
    assert (out / "items.jsonl").read_bytes() == (unsharded / "items.jsonl").read_bytes()
    assert (out / "run.json").read_bytes() == (unsharded / "run.json").read_bytes()
    for path in [out / "items.jsonl", *sorted(out.glob("shards/*/items.jsonl"))]:
        ids = [it["id"] for it in _lines(path)]
        assert len(ids) == len(set(ids)), f"{path}: an item was written twice"
    summary, reference = (json.loads((d / "summary.json").read_text()) for d in (out, unsharded))
    timing = summary.pop("timing")
    reference.pop("timing")
    assert summary == reference
    assert [s["shard"] for s in timing["shards"]] == ["0/2", "1/2"]


def test_two_shards_on_a_local_cluster_equal_the_unsharded_run(
    cluster: str, tiny_rm_dir: Path, data_dir: Path, unsharded: Path, tmp_path: Path
) -> None:
    out = tmp_path / "ray"
    result = _ray_run(tiny_rm_dir, data_dir, out, cluster)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"done: 5 items scored, 0 reused -> {out}" in _said(result)
    assert sorted(p.name for p in (out / "shards").iterdir()) == ["0-of-2", "1-of-2"]
    _check_equal_to_unsharded(out, unsharded)
    again = _ray_run(tiny_rm_dir, data_dir, out, cluster)  # a finished run: every shard resumes, nothing rescored
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"done: 0 items scored, 5 reused -> {out}" in _said(again)
    _check_equal_to_unsharded(out, unsharded)


def test_a_killed_worker_is_retried_and_its_shard_resumes(
    cluster: str, tiny_rm_dir: Path, data_dir: Path, unsharded: Path, tmp_path: Path
) -> None:
    out, marker = tmp_path / "ray", tmp_path / "killed"
    result = _ray_run(tiny_rm_dir, data_dir, out, cluster, RMBENCH_TEST_KILL_MARKER=str(marker))
    assert result.returncode == 0, result.stderr[-3000:]
    assert marker.exists()  # a worker killed itself with SIGKILL after writing its first item
    _check_equal_to_unsharded(out, unsharded)
    resumed = [s for s in json.loads((out / "summary.json").read_text())["timing"]["shards"] if s["items_reused"]]
    assert len(resumed) == 1 and resumed[0]["items_reused"] == 1  # the retry kept the item written before the kill
    assert "done: 4 items scored, 1 reused" in _said(result)
