"""``rmbench publish --dry-run`` on real runs (the tiny seq-cls model and the length baseline on LLMBar):
the parquet files, the dataset card and the model-index are read back with pandas and huggingface_hub's
own parsers. No test touches the network: conftest sets HF_HUB_OFFLINE=1 and an empty HF_HOME, and the
upload path is reached only to show that it stops at the Hub's offline guard."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from rmbench.cli.commands import app
from rmbench.reports.numbers import fmt_interval

LIMIT = 3  # per subset: 5 LLMBar subsets -> 15 items


def _cli(*args: str) -> None:
    res = CliRunner().invoke(app, list(args))
    assert res.exit_code == 0, res.output


def _publish(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rmbench.cli", "publish", *args], capture_output=True, text=True,
                          timeout=300, env=env)


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory: pytest.TempPathFactory, tiny_rm_dir: Path, data_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("publish-runs")
    common = ["--task", "llmbar", "--data-dir", str(data_dir), "--limit", str(LIMIT), "--n-bootstrap", "200", "--quiet"]
    _cli("run", "--model", str(tiny_rm_dir), "--kind", "scalar", *common, "--out", str(root / "tiny"))
    _cli("run", "--model", "baseline:length", "--kind", "baseline", *common, "--out", str(root / "length"))
    return root


@pytest.fixture(scope="module")
def published_run(runs_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pub") / "run"
    r = _publish(str(runs_root / "tiny"), "--repo-id", "me/llmbar-tiny", "--model-repo", "me/tiny-rm",
                 "--dry-run", str(out))
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture(scope="module")
def board(runs_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("board") / "llmbar.json"
    _cli("leaderboard", "build", str(runs_root / "tiny"), str(runs_root / "length"), "--runs-root", str(runs_root),
         "--out", str(out), "--n-bootstrap", "500")
    return out


def _items(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "items.jsonl").read_text().splitlines() if line.strip()]


def test_parquet_reads_back_as_items_jsonl(published_run: Path, runs_root: Path) -> None:
    import pandas as pd
    import pyarrow.parquet as pq

    files = sorted((published_run / "data").glob("*.parquet"))
    assert [f.stem for f in files] == sorted({it["subset"] for it in _items(runs_root / "tiny")})
    assert len({str(pq.read_schema(f)) for f in files}) == 1  # one schema: `datasets` loads them together
    frame = pd.concat([pd.read_parquet(f) for f in files]).set_index("id")
    items = _items(runs_root / "tiny")
    assert sorted(frame.index) == sorted(it["id"] for it in items)
    for it in items:
        row = frame.loc[it["id"]]
        assert row["subset"] == it["subset"] and row["example_hash"] == it["example_hash"]
        assert row["metrics.accuracy"] == it["metrics"]["accuracy"]
        assert row["baselines.length.accuracy"] == it["baselines"]["length"]["accuracy"]
        assert row["scores.chosen"] == it["scores"]["chosen"] and row["ties"] == it["ties"]
        assert json.loads(row["scores_json"]) == it["scores"] and json.loads(row["extra_json"]) == it["extra"]


def test_run_files_and_publish_manifest(published_run: Path, runs_root: Path) -> None:
    for name in ("run.json", "summary.json", "report.md", "items.jsonl"):
        assert (published_run / name).read_bytes() == (runs_root / "tiny" / name).read_bytes()
    manifest = json.loads((published_run / "rmbench_publish.json").read_text())
    present = {p.relative_to(published_run).as_posix() for p in published_run.rglob("*") if p.is_file()}
    assert set(manifest["files"]) == present - {"rmbench_publish.json"}
    for rel, sha in manifest["files"].items():
        assert hashlib.sha256((published_run / rel).read_bytes()).hexdigest() == sha


def test_dataset_card_parses_with_configs_tags_and_numbers(published_run: Path, runs_root: Path) -> None:
    from huggingface_hub import DatasetCard

    card = DatasetCard.load(published_run / "README.md")
    subsets = sorted({it["subset"] for it in _items(runs_root / "tiny")})
    configs = {c["config_name"]: c for c in card.data.configs}
    assert list(configs)[0] == "default" and configs["default"]["default"] is True
    assert sorted(configs) == sorted(["default", *subsets])
    for c in configs.values():
        (split,) = c["data_files"]
        paths = split["path"] if isinstance(split["path"], list) else [split["path"]]
        assert split["split"] == "test" and all((published_run / p).is_file() for p in paths)
    assert {"rmbench", "task:llmbar", "kind:scalar"} <= set(card.data.tags)
    assert card.data.license == ["mit", "odc-by"]  # tasks/llmbar.yaml: "MIT (LLMBar); ... RewardBench (ODC-BY)"
    summary = json.loads((runs_root / "tiny" / "summary.json").read_text())
    assert fmt_interval(summary["results"]["overall"]["metrics"]["accuracy"]) in card.text
    assert summary["model"]["weights_sha256"] in card.text and summary["data"]["fingerprint"] in card.text
    assert "rmbench report" in card.text and "rmbench leaderboard verify" in card.text


def test_model_index_gives_the_summary_numbers(published_run: Path, runs_root: Path) -> None:
    from huggingface_hub import ModelCard
    from huggingface_hub.repocard_data import model_index_to_eval_results

    summary = json.loads((runs_root / "tiny" / "summary.json").read_text())["results"]
    expected = {(None, m): e for m, e in summary["overall"]["metrics"].items()}
    expected |= {(s, m): e for s, b in summary["subsets"].items() for m, e in b["metrics"].items()}
    card = ModelCard.load(published_run / "model_card_snippet.md")
    name, results = model_index_to_eval_results(
        yaml.safe_load((published_run / "model-index.yaml").read_text())["model-index"])
    assert name == card.data.model_name == "me/tiny-rm"
    for found in (card.data.eval_results, results):
        got = {(r.dataset_config, r.metric_type): r for r in found}
        assert set(got) == set(expected)
        for key, est in expected.items():
            r = got[key]
            assert r.metric_value == est["value"]
            assert (r.metric_args["ci_low"], r.metric_args["ci_high"]) == (est["low"], est["high"])
            assert r.task_type == "text-classification" and r.dataset_type == "allenai/reward-bench"
            assert r.source_url == "https://huggingface.co/datasets/me/llmbar-tiny"


def test_leaderboard_publishes_and_verifies_from_the_folder(board: Path, runs_root: Path, tmp_path: Path) -> None:
    import pandas as pd
    from huggingface_hub import DatasetCard

    out = tmp_path / "board"
    r = _publish(str(board), "--repo-id", "me/results", "--runs-root", str(runs_root), "--dry-run", str(out))
    assert r.returncode == 0, r.stderr
    assert (out / "leaderboards" / "llmbar.json").read_bytes() == board.read_bytes()
    doc = json.loads(board.read_text())
    entries = pd.read_parquet(out / "data" / "entries.parquet")
    assert list(entries["name"]) == [e["name"] for e in doc["entries"]]
    assert list(entries["overall.metrics.accuracy.value"]) == [e["overall"]["metrics"]["accuracy"]["value"]
                                                              for e in doc["entries"]]
    assert [json.loads(x) for x in entries["rank_range"]] == [e["rank_range"] for e in doc["entries"]]
    card = DatasetCard.load(out / "README.md")
    assert card.data.configs[0]["data_files"][0]["path"] == "data/entries.parquet" and "leaderboard" in card.data.tags
    # what the maintainer of a results repository runs on a submission
    v = subprocess.run([sys.executable, "-m", "rmbench.cli", "leaderboard", "verify", str(out / "leaderboards" /
                        "llmbar.json"), "--runs-root", str(out / "runs")], capture_output=True, text=True, timeout=300)
    assert v.returncode == 0, v.stdout + v.stderr


def _no_token_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")}
    env["HF_HOME"] = str(tmp_path / "hf-home")  # no stored login token
    return env


def test_no_token_and_no_dry_run_is_one_line_exit_2(runs_root: Path, tmp_path: Path) -> None:
    r = _publish(str(runs_root / "tiny"), "--repo-id", "me/llmbar-tiny", env=_no_token_env(tmp_path))
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "no Hugging Face token" in r.stderr and "--dry-run" in r.stderr


def test_token_reaches_the_upload_and_stops_offline(runs_root: Path, tmp_path: Path) -> None:
    """The upload path runs (create_repo is called) and meets huggingface_hub's offline guard: one line, exit 2."""
    env = _no_token_env(tmp_path) | {"HF_HUB_OFFLINE": "1"}
    r = _publish(str(runs_root / "tiny"), "--repo-id", "me/llmbar-tiny", "--token", "hf_not_a_token", env=env)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("error: upload to me/llmbar-tiny failed: OfflineModeIsEnabled")
    assert r.stderr.strip().count("\n") == 0 and "hf_not_a_token" not in r.stderr


def test_refuses_a_foreign_folder_and_keeps_its_files(runs_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes\n")
    r = _publish(str(runs_root / "tiny"), "--repo-id", "me/x", "--dry-run", str(out))
    assert r.returncode == 2 and "not a folder written by 'rmbench publish'" in r.stderr
    assert [p.name for p in out.iterdir()] == ["notes.txt"] and (out / "notes.txt").read_text() == "my notes\n"


def test_rewrites_its_own_folder_only(runs_root: Path, board: Path, tmp_path: Path) -> None:
    out = tmp_path / "pub"
    assert _publish(str(runs_root / "tiny"), "--repo-id", "me/x", "--dry-run", str(out)).returncode == 0
    # a leaderboard into the same folder: the run's files go, the folder is exactly the new publication
    r = _publish(str(board), "--repo-id", "me/x", "--runs-root", str(runs_root), "--dry-run", str(out))
    assert r.returncode == 0, r.stderr
    listed = set(json.loads((out / "rmbench_publish.json").read_text())["files"]) | {"rmbench_publish.json"}
    assert {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} == listed
    assert not (out / "items.jsonl").exists()
    (out / "data" / "mine.csv").write_text("a,b\n")  # a user's file in it: refused from now on
    r = _publish(str(runs_root / "tiny"), "--repo-id", "me/x", "--dry-run", str(out))
    assert r.returncode == 2 and "data/mine.csv" in r.stderr and (out / "leaderboards" / "llmbar.json").exists()


@pytest.mark.parametrize("args, message", [
    (["--repo-id", "not a repo"], "--repo-id 'not a repo'"),
    (["--repo-id", "me/x", "--model-repo", "me/y"], "--model-repo needs a run directory"),
])
def test_bad_requests_exit_2(board: Path, runs_root: Path, tmp_path: Path, args: list[str], message: str) -> None:
    r = _publish(str(board), *args, "--runs-root", str(runs_root), "--dry-run", str(tmp_path / "o"))
    assert r.returncode == 2 and message in r.stderr and not (tmp_path / "o").exists()
