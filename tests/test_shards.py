"""Sharded runs (issue 17 item 2): ``rmbench run --shard i/n`` and ``rmbench merge``.

The check of the issue: shards 0/3, 1/3 and 2/3 of LLMBar (tiny reward model) merged give the unsharded
run's directory: items.jsonl and run.json byte for byte, summary.json byte for byte up to its timing block.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rmbench.config import RunConfig
from rmbench.data.examples import load_examples
from rmbench.data.task import load_task
from rmbench.errors import UserError
from rmbench.runner import default_run_dir, run
from rmbench.shards.slice import shard_examples
from rmbench.shards.spec import Shard, parse_shard

N_SHARDS = 3


def _cfg(model: Path, data_dir: Path, out: Path, **kw: Any) -> RunConfig:
    base: dict[str, Any] = {"task": "llmbar", "model": str(model), "kind": "scalar", "limit": 2, "n_bootstrap": 200,
                            "data_dir": data_dir, "out_dir": out}
    return RunConfig.from_flat(**{**base, **kw})


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rmbench.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def _without_timing(summary_path: Path) -> str:
    """summary.json's text up to its timing block (the last key; the only part that depends on the clock)."""
    text = summary_path.read_text(encoding="utf-8")
    assert text.count('"timing"') == 1
    return text.split('"timing"')[0]


@pytest.fixture(scope="module")
def runs(tiny_rm_dir: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The unsharded run and its three shards (10 LLMBar items: 4, 3 and 3)."""
    root = tmp_path_factory.mktemp("shards")
    out = {"full": root / "full"}
    run(_cfg(tiny_rm_dir, data_dir, out["full"]))
    for i in range(N_SHARDS):
        out[str(i)] = root / f"shard{i}"
        run(_cfg(tiny_rm_dir, data_dir, out[str(i)], shard=f"{i}/{N_SHARDS}"))
    return out


def _shards(runs: dict[str, Path]) -> list[Path]:
    return [runs[str(i)] for i in range(N_SHARDS)]


def test_merged_shards_equal_the_unsharded_run(runs: dict[str, Path], tmp_path: Path) -> None:
    merged = tmp_path / "merged"
    result = _cli("merge", *reversed(_shards(runs)), "--out", merged, "--quiet")  # any order
    assert result.returncode == 0, result.stderr
    assert "merged: 10 of 10 items from 3 shard directories" in result.stderr
    full = runs["full"]
    assert (merged / "items.jsonl").read_bytes() == (full / "items.jsonl").read_bytes()
    assert (merged / "run.json").read_bytes() == (full / "run.json").read_bytes()
    assert _without_timing(merged / "summary.json") == _without_timing(full / "summary.json")
    timing = json.loads((merged / "summary.json").read_text())["timing"]
    assert timing["items_scored_this_session"] == 0 and timing["items_reused"] == 10
    assert [(s["shard"], s["n_items"], s["items_scored_this_session"]) for s in timing["shards"]] == [
        ("0/3", 4, 4), ("1/3", 3, 3), ("2/3", 3, 3)]
    assert "Merged from 3 shard runs" in (merged / "report.md").read_text()
    # the merged directory is a normal run: report recomputes the same summary, a rerun scores nothing
    report = _cli("report", merged)
    assert report.returncode == 0, report.stderr
    assert _without_timing(merged / "summary.json") == _without_timing(full / "summary.json")


def test_a_shard_records_the_shard_and_the_whole_selection(runs: dict[str, Path]) -> None:
    full = json.loads((runs["full"] / "run.json").read_text())
    seen: list[str] = []
    for i in range(N_SHARDS):
        shard_run = json.loads((runs[str(i)] / "run.json").read_text())
        facts = shard_run["data"]["shard"]
        assert (facts["index"], facts["count"], facts["rule"]) == (i, N_SHARDS, "round-robin")
        assert facts["selection"] == {"n_items": 10, "items": full["data"]["items"]}
        assert list(shard_run["data"]["items"]) == list(full["data"]["items"])[i::N_SHARDS]
        assert shard_run["identity"] == full["identity"]  # item lines of a shard are the unsharded run's lines
        assert shard_run["data"]["subsets"] == full["data"]["subsets"]
        seen += shard_run["data"]["items"]
    assert sorted(seen) == sorted(full["data"]["items"])


def test_shard_rule_is_round_robin_over_the_selection(data_dir: Path) -> None:
    task = load_task("llmbar")
    exset = load_examples(task.spec, data_dir, limit=3)
    ids = [e.id for e in exset.examples]
    for n in (1, 2, 4):
        parts = [[e.id for e in shard_examples(exset, Shard(i, n)).examples] for i in range(n)]
        assert parts == [ids[i::n] for i in range(n)]
    with pytest.raises(UserError, match="is empty"):
        shard_examples(exset, Shard(15, 16))  # 15 items


@pytest.mark.parametrize("text", ["3/3", "-1/3", "0/0", "x", "1/2/3", ""])
def test_bad_shard_values_are_refused(text: str) -> None:
    with pytest.raises(UserError, match="--shard"):
        parse_shard(text)


def test_bad_shard_on_the_command_line_is_one_line_exit_2(tmp_path: Path) -> None:
    result = _cli("run", "--task", "llmbar", "--model", "baseline:length", "--shard", "2/2", "--out", tmp_path / "r")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: --shard 2/2: the shard index must be between 0 and 1"
    assert not (tmp_path / "r").exists()


def test_default_run_dir_names_the_shard() -> None:
    plain = RunConfig.from_flat(task="llmbar", model="m", kind="scalar")
    dirs = {default_run_dir(RunConfig.from_flat(task="llmbar", model="m", kind="scalar", shard=s), "llmbar")
            for s in ("0/2", "1/2", (0, 3))}
    assert len(dirs) == 3 and default_run_dir(plain, "llmbar") not in dirs
    assert {d.name.rsplit("-", 1)[1] for d in dirs} == {"shard0of2", "shard1of2", "shard0of3"}
    assert {d.name.rsplit("-", 1)[0] for d in dirs} == {default_run_dir(plain, "llmbar").name}


def test_resuming_a_shard_directory_as_another_shard_is_refused(runs: dict[str, Path], tiny_rm_dir: Path,
                                                                 data_dir: Path) -> None:
    with pytest.raises(UserError, match=r"holds shard 0/3, this run is shard 1/3"):
        run(_cfg(tiny_rm_dir, data_dir, runs["0"], shard="1/3"))
    with pytest.raises(UserError, match=r"holds an unsharded run, this run is shard 0/3"):
        run(_cfg(tiny_rm_dir, data_dir, runs["full"], shard="0/3"))


def test_missing_shard_is_refused_then_merged_partial_and_completed(runs: dict[str, Path], tiny_rm_dir: Path,
                                                                    data_dir: Path, tmp_path: Path) -> None:
    merged = tmp_path / "merged"
    refused = _cli("merge", runs["0"], runs["2"], "--out", merged)
    assert refused.returncode == 2
    assert "3 of 10 items are missing: no directory for shard 1/3" in refused.stderr
    assert not (merged / "run.json").exists()
    partial = _cli("merge", runs["0"], runs["2"], "--out", merged, "--allow-partial", "--quiet")
    assert partial.returncode == 0, partial.stderr
    assert "partial run: 3 items missing" in partial.stderr
    report = _cli("report", merged)
    assert report.returncode == 0 and "7 of 10 items scored" in report.stderr
    outcome = run(_cfg(tiny_rm_dir, data_dir, merged))  # the unsharded command resumes it
    assert (outcome.scored_now, outcome.reused) == (3, 7)
    assert _without_timing(merged / "summary.json") == _without_timing(runs["full"] / "summary.json")


def test_an_unfinished_shard_is_named(runs: dict[str, Path], tmp_path: Path) -> None:
    cut = tmp_path / "shard1"
    shutil.copytree(runs["1"], cut)
    lines = (cut / "items.jsonl").read_text().splitlines(keepends=True)
    (cut / "items.jsonl").write_text("".join(lines[:1]))
    result = _cli("merge", runs["0"], cut, runs["2"], "--out", tmp_path / "merged")
    assert result.returncode == 2
    assert f"2 of 10 items are missing: shard 1/3 ({cut}) has 1 of 3 items" in result.stderr


def test_overlapping_items_with_different_results_are_refused(runs: dict[str, Path], tmp_path: Path) -> None:
    twin = tmp_path / "twin"
    shutil.copytree(runs["0"], twin)
    same = _cli("merge", *_shards(runs), twin, "--out", tmp_path / "same", "--quiet")
    assert same.returncode == 0, same.stderr  # the same shard twice, identical lines: harmless
    lines = [json.loads(x) for x in (twin / "items.jsonl").read_text().splitlines()]
    lines[1]["scores"]["chosen"] += 1.0  # another result for the same item
    (twin / "items.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    result = _cli("merge", *_shards(runs), twin, "--out", tmp_path / "merged")
    assert result.returncode == 2
    assert f"item '{lines[1]['id']}' is also in" in result.stderr and "the shards overlap" in result.stderr
    assert not (tmp_path / "merged" / "items.jsonl").exists()


def test_shards_of_another_configuration_are_refused(runs: dict[str, Path], tiny_rm_dir: Path, data_dir: Path,
                                                     tmp_path: Path) -> None:
    other = tmp_path / "shard1-short"
    run(_cfg(tiny_rm_dir, data_dir, other, shard="1/3", max_length=512))
    result = _cli("merge", runs["0"], other, runs["2"], "--out", tmp_path / "merged")
    assert result.returncode == 2
    assert f"{other}: not a shard of the same run as" in result.stderr
    assert "config.max_length: (none) -> 512" in result.stderr


def test_merge_refuses_a_directory_that_is_no_shard(runs: dict[str, Path], tmp_path: Path) -> None:
    result = _cli("merge", runs["full"], runs["0"], "--out", tmp_path / "merged")
    assert result.returncode == 2 and "not a shard (no data.shard)" in result.stderr
    into_existing = _cli("merge", *_shards(runs), "--out", runs["full"])
    assert into_existing.returncode == 2 and "already holds a run" in into_existing.stderr


@pytest.mark.parametrize(("options", "message"), [
    ({"shards": 2}, "--shards, --ray-num-gpus and --ray-address need --executor ray"),
    ({"executor": "ray", "shard": "0/2"}, "--shard 0/2 with --executor ray"),
    ({"executor": "ray", "ray_num_gpus": -1.0}, "--ray-num-gpus -1.0: must be 0 or more"),
    ({"executor": "ray", "shards": 0}, "--shards 0: must be at least 1"),
    ({"executor": "dask"}, "--executor 'dask': expected one of local, ray"),
])  # fmt: skip
def test_executor_options_are_checked(options: dict[str, Any], message: str) -> None:
    with pytest.raises(UserError, match=message):
        RunConfig.from_flat(task="llmbar", model="m", **options)
