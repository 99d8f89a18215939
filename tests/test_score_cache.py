"""The shared score cache (issue 17 item 1) on real runs: tiny real models, the upstream LLMBar and
ProcessBench files, a real SQLite file, real processes for the CLI and for two runs at once.

conftest.py turns the cache off for every other test; each test here points ``RMBENCH_SCORE_CACHE`` at
its own folder.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rmbench.cache.store import DB_FILE
from rmbench.config import RunConfig
from rmbench.runner import RunOutcome, run

NB = "200"


def _cfg(model: Path | str, out: Path, data_dir: Path, **kw: Any) -> RunConfig:
    base: dict[str, Any] = {"task": "llmbar", "model": str(model), "kind": "scalar", "n_bootstrap": 200, "limit": 1}
    base.update(kw)
    return RunConfig.from_flat(out_dir=out, data_dir=data_dir, **base)


def _run(model: Path | str, out: Path, data_dir: Path, **kw: Any) -> RunOutcome:
    return run(_cfg(model, out, data_dir, **kw))


def _cli(cache: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "RMBENCH_SCORE_CACHE": str(cache), **(env or {})}
    return subprocess.run([sys.executable, "-m", "rmbench.cli", *args], capture_output=True, text=True, timeout=600,
                          env=full_env)


def _summary(out: Path) -> dict[str, Any]:
    s = json.loads((out / "summary.json").read_text())
    s.pop("timing")
    return s


def _scores(out: Path) -> dict[str, Any]:
    lines = [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines() if line.strip()]
    return {it["id"]: it["scores"] for it in lines}


def _entries(cache: Path) -> int:
    with sqlite3.connect(cache / DB_FILE) as db:
        return int(db.execute("SELECT COUNT(*) FROM scores").fetchone()[0])


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "score-cache"
    monkeypatch.setenv("RMBENCH_SCORE_CACHE", str(folder))
    return folder


# ------------------------------------------------------------------------------ the check


def test_larger_limit_rescores_only_new_items_and_equals_a_run_without_cache(
    tiny_rm_dir: Path, data_dir: Path, tmp_path: Path, cache_dir: Path
) -> None:
    """--limit 5 then --limit 10 in another directory: half scored, half from the cache, and the summary
    equals a --no-cache run's; --no-cache neither reads nor writes; the terminal says what came from the cache."""
    common = ["run", "--task", "llmbar", "--model", str(tiny_rm_dir), "--kind", "scalar", "--data-dir", str(data_dir),
              "--n-bootstrap", NB, "--quiet"]
    first = _cli(cache_dir, *common, "--limit", "5", "--out", str(tmp_path / "five"))
    assert first.returncode == 0, first.stderr
    second = _cli(cache_dir, *common, "--limit", "10", "--out", str(tmp_path / "ten"))
    assert second.returncode == 0, second.stderr
    timing = json.loads((tmp_path / "ten" / "summary.json").read_text())["timing"]
    assert timing["items_scored_this_session"] == 50 and timing["items_from_cache"] == 25  # 5 subsets x 5
    assert timing["score_cache"] == "on"
    assert "(25 from the score cache)" in " ".join(second.stderr.split())
    assert _entries(cache_dir) == 50

    before = (cache_dir / DB_FILE).stat().st_mtime_ns, _entries(cache_dir)
    plain = _cli(cache_dir, *common, "--limit", "10", "--no-cache", "--out", str(tmp_path / "plain"))
    assert plain.returncode == 0, plain.stderr
    plain_timing = json.loads((tmp_path / "plain" / "summary.json").read_text())["timing"]
    assert plain_timing["items_from_cache"] == 0 and plain_timing["score_cache"] == "off: --no-cache"
    assert ((cache_dir / DB_FILE).stat().st_mtime_ns, _entries(cache_dir)) == before
    assert json.loads((tmp_path / "plain" / "run.json").read_text())["score_cache"]["status"] == "off: --no-cache"

    assert _summary(tmp_path / "ten") == _summary(tmp_path / "plain")
    cached, fresh = _scores(tmp_path / "ten"), _scores(tmp_path / "plain")
    assert cached.keys() == fresh.keys()
    for key, item in cached.items():  # batches differ (other neighbours, padding): float noise only
        assert item == pytest.approx(fresh[key], rel=1e-5, abs=1e-6)


def test_a_fully_cached_run_loads_no_model(tiny_rm_dir: Path, data_dir: Path, tmp_path: Path, cache_dir: Path) -> None:
    """Rerunning a finished run in a new directory reads every score from the cache: neither torch nor
    transformers is imported, and run.json and the summary describe the model as the first run did."""
    _run(tiny_rm_dir, tmp_path / "first", data_dir)
    script = (
        "import sys; from pathlib import Path; from rmbench.runner import run; from rmbench.config import RunConfig\n"
        f"o = run(RunConfig.from_flat(task='llmbar', model={str(tiny_rm_dir)!r}, kind='scalar', limit=1, n_bootstrap=200,"
        f" data_dir=Path({str(data_dir)!r}), out_dir=Path({str(tmp_path / 'again')!r})))\n"
        "print(o.from_cache, sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    env = {**os.environ, "RMBENCH_SCORE_CACHE": str(cache_dir)}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["5", "[]"]
    assert _summary(tmp_path / "again") == _summary(tmp_path / "first")


def test_another_task_with_the_same_pairs_reuses_their_scores(
    tiny_rm_dir: Path, data_dir: Path, tmp_path: Path, cache_dir: Path
) -> None:
    """The generic 'pairs' task over a CSV holding LLMBar's pairs under other ids and column names."""
    from rmbench.data.examples import load_examples
    from rmbench.data.task import load_task

    first = _run(tiny_rm_dir, tmp_path / "llmbar", data_dir, limit=2)
    exset = load_examples(load_task("llmbar", ()).spec, data_dir, limit=2)
    rows = [{"q": e.prompt_text, "good": e.chosen, "bad": e.rejected, "row": f"mine-{i}"}  # type: ignore[union-attr]
            for i, e in enumerate(exset.examples)]
    data = tmp_path / "mine.csv"
    with data.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    overrides = {"source": {"local": {"files": [str(data)]}},
                 "fields": {"prompt": "q", "chosen": "good", "rejected": "bad", "id": "row"}}
    mine = _run(tiny_rm_dir, tmp_path / "mine", data_dir, task="pairs", task_overrides=overrides, limit=None)
    assert first.from_cache == 0 and mine.scored_now == 10 and mine.from_cache == 10
    by_content = {(r["good"], r["bad"]): r["row"] for r in rows}
    llmbar_scores, mine_scores = _scores(tmp_path / "llmbar"), _scores(tmp_path / "mine")
    for e in exset.examples:
        assert llmbar_scores[e.id] == mine_scores[by_content[(e.chosen, e.rejected)]]  # type: ignore[union-attr]


# ------------------------------------------------------------------------------ every key part


def _copy_model(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


@pytest.mark.filterwarnings("ignore:bfloat16 on a CPU")
def test_each_scalar_key_part_misses(tiny_rm_dir: Path, smollm2_dir: Path, data_dir: Path, tmp_path: Path,
                                     cache_dir: Path) -> None:
    """Same settings (the model folder copied elsewhere counts as the same model): every item hits. Each
    changed part (max length, dtype, truncation side, chat template, weights, kind): every item misses."""
    from rmbench.testing.tiny import build_tiny_model

    _run(tiny_rm_dir, tmp_path / "base", data_dir)
    moved = _copy_model(tiny_rm_dir, tmp_path / "moved-rm")
    assert _run(moved, tmp_path / "same", data_dir).from_cache == 5
    assert _summary(tmp_path / "same")["results"] == _summary(tmp_path / "base")["results"]

    template = _copy_model(tiny_rm_dir, tmp_path / "template-rm")
    (template / "chat_template.jinja").write_text((template / "chat_template.jinja").read_text() + "\n")
    reseeded = build_tiny_model(tmp_path / "reseeded-rm", kind="seq-cls", tokenizer_dir=smollm2_dir, seed=1)
    changes: dict[str, tuple[Path, dict[str, Any]]] = {
        "max length": (tiny_rm_dir, {"max_length": 64}),
        "dtype": (tiny_rm_dir, {"dtype": "bfloat16"}),
        "truncation side": (tiny_rm_dir, {"truncation_side": "right"}),
        "chat template": (template, {}),
        "model weights": (reseeded, {}),
    }  # the kind: on the causal LM below (a sequence classifier has one forward kind)
    for name, (model, kw) in changes.items():
        outcome = _run(model, tmp_path / name.replace(" ", "-"), data_dir, **kw)
        assert outcome.from_cache == 0, f"{name}: a changed setting must miss"


def test_kind_and_reduction_miss_and_likelihood_hits(tiny_lm_dir: Path, data_dir: Path, tmp_path: Path,
                                                     cache_dir: Path) -> None:
    _run(tiny_lm_dir, tmp_path / "sum", data_dir, kind="likelihood")
    again = _run(tiny_lm_dir, tmp_path / "sum-again", data_dir, kind="likelihood")
    assert again.from_cache == 5 and _summary(tmp_path / "sum-again") == _summary(tmp_path / "sum")
    assert _run(tiny_lm_dir, tmp_path / "mean", data_dir, kind="likelihood", reduction="mean").from_cache == 0
    assert _run(tiny_lm_dir, tmp_path / "implicit", data_dir, kind="implicit", ref_model=str(tiny_lm_dir)).from_cache == 0


def test_process_scores_are_cached_with_their_step_options(tiny_lm_dir: Path, data_dir: Path, tmp_path: Path,
                                                           cache_dir: Path) -> None:
    first = _run(tiny_lm_dir, tmp_path / "p1", data_dir, task="processbench", kind="process")
    again = _run(tiny_lm_dir, tmp_path / "p2", data_dir, task="processbench", kind="process")
    assert first.from_cache == 0 and again.from_cache == again.scored_now > 0
    assert _summary(tmp_path / "p2") == _summary(tmp_path / "p1")
    other = _run(tiny_lm_dir, tmp_path / "p3", data_dir, task="processbench", kind="process", aggregation="last")
    assert other.from_cache == 0


# ------------------------------------------------------------------------------ concurrency, bound, damage


def test_two_runs_at_once_share_the_cache(tiny_rm_dir: Path, data_dir: Path, tmp_path: Path, cache_dir: Path) -> None:
    args = ["run", "--task", "llmbar", "--model", str(tiny_rm_dir), "--kind", "scalar", "--data-dir", str(data_dir),
            "--limit", "3", "--n-bootstrap", NB, "--quiet", "--chunk-size", "2"]
    env = {**os.environ, "RMBENCH_SCORE_CACHE": str(cache_dir)}
    procs = [subprocess.Popen([sys.executable, "-m", "rmbench.cli", *args, "--out", str(tmp_path / f"r{i}")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for i in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        assert "rmbench score cache:" not in err  # no warning: neither run lost the cache to the other
    assert _scores(tmp_path / "r0") == _scores(tmp_path / "r1")
    assert _summary(tmp_path / "r0") == _summary(tmp_path / "r1")
    assert _entries(cache_dir) == 15


def test_cache_info_prune_and_the_size_bound(tiny_rm_dir: Path, data_dir: Path, tmp_path: Path, cache_dir: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    _run(tiny_rm_dir, tmp_path / "a", data_dir, limit=2)
    info = _cli(cache_dir, "cache", "info")
    assert info.returncode == 0, info.stderr
    text = " ".join(info.stdout.split())
    assert str(cache_dir / DB_FILE) in text.replace(" ", "") or DB_FILE in text
    assert "entries: 10" in text and "scalar" in text

    pruned = _cli(cache_dir, "cache", "prune", "--max-size", "2kB")
    assert pruned.returncode == 0, pruned.stderr
    from rmbench.cache.store import ScoreStore

    store = ScoreStore(cache_dir)
    assert 0 < store.total_bytes() <= 2000 and _entries(cache_dir) < 10
    store.close()
    assert _cli(cache_dir, "cache", "prune", "--model", str(tiny_rm_dir)).returncode == 0
    assert _entries(cache_dir) == 0
    bad = _cli(cache_dir, "cache", "prune", "--older-than", "soon")
    assert bad.returncode == 2 and "--older-than 'soon'" in bad.stderr

    monkeypatch.setenv("RMBENCH_SCORE_CACHE_MAX_SIZE", "3kB")  # a run keeps the cache within the bound
    _run(tiny_rm_dir, tmp_path / "b", data_dir, limit=3)
    store = ScoreStore(cache_dir)
    assert 0 < store.total_bytes() <= 3000
    store.close()


def test_a_corrupt_cache_file_warns_and_the_run_completes(tiny_rm_dir: Path, data_dir: Path, tmp_path: Path,
                                                          cache_dir: Path) -> None:
    cache_dir.mkdir()
    (cache_dir / DB_FILE).write_bytes(b"this is not a database" * 100)
    args = ["run", "--task", "llmbar", "--model", str(tiny_rm_dir), "--kind", "scalar", "--data-dir", str(data_dir),
            "--limit", "1", "--n-bootstrap", NB, "--quiet", "--out", str(tmp_path / "r")]
    proc = _cli(cache_dir, *args)
    assert proc.returncode == 0, proc.stderr
    assert "rmbench score cache" in proc.stderr and "continues without the cache" in proc.stderr
    s = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert s["data"]["n_items"] == 5 and s["timing"]["score_cache"].startswith("off: ")
    assert len(_scores(tmp_path / "r")) == 5

