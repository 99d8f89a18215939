"""Every file of a publication, by its path in the repository: what the dry run writes and the upload sends.

Run directory::

    README.md                  dataset card (YAML metadata + body)
    run.json summary.json report.md items.jsonl      the run's files, byte for byte
    data/<subset>.parquet      per-item results (schema in rmbench.publish.tables)
    model-index.yaml           model-card evaluation results
    model_card_snippet.md      the same as a model-card header
    rmbench_publish.json       this list of files with their sha256

Leaderboard file::

    README.md
    leaderboards/<task>.json   the leaderboard, byte for byte
    runs/<run_dir>/...         each entry's run files (what ``leaderboard verify`` reads)
    data/entries.parquet       the entries as a table
    rmbench_publish.json
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from rmbench.publish.target import LeaderboardTarget, RunTarget, Target

PUBLISH_FILE = "rmbench_publish.json"
PUBLISH_SCHEMA = "rmbench.publish/1"
CARD_FILE = "README.md"
MODEL_INDEX_FILE = "model-index.yaml"
SNIPPET_FILE = "model_card_snippet.md"


@dataclass(frozen=True)
class Bundle:
    """Repository path -> file bytes, plus the model-card data of a run (``None`` for a leaderboard)."""

    files: dict[str, bytes]
    model_card_data: Any = None


def build_bundle(target: Target, repo_id: str, model_repo: str | None = None) -> Bundle:
    """The files publishing ``target`` to the dataset repository ``repo_id``."""
    from rmbench import __version__

    if isinstance(target, RunTarget):
        files, card_data = _run_files(target, repo_id, model_repo)
        kind = "run"
    else:
        files, card_data = _leaderboard_files(target, repo_id), None
        kind = "leaderboard"
    manifest = {"schema": PUBLISH_SCHEMA, "generated_by": f"rmbench {__version__}", "target": kind,
                "repo_id": repo_id, "files": {p: hashlib.sha256(b).hexdigest() for p, b in sorted(files.items())}}
    files[PUBLISH_FILE] = (json.dumps(manifest, indent=2) + "\n").encode()
    return Bundle(files, card_data)


def _run_files(target: RunTarget, repo_id: str, model_repo: str | None) -> tuple[dict[str, bytes], Any]:
    from rmbench.publish.card import task_spec_fields
    from rmbench.publish.model_index import model_card_data, model_index_yaml, snippet_text
    from rmbench.publish.run_card import model_name, run_card
    from rmbench.publish.tables import parquet_by_subset

    spec = task_spec_fields(target.summary["task"]["name"])
    files: dict[str, bytes] = dict(target.raw)
    parquet = parquet_by_subset(target.items)
    names = file_names(list(parquet))
    subset_files = {s: f"data/{names[s]}.parquet" for s in parquet}
    files |= {subset_files[s]: data for s, data in parquet.items()}
    files[CARD_FILE] = run_card(target, subset_files, spec, repo_id).encode()
    model = model_repo or model_name(target.summary)
    card_data = model_card_data(target.summary, spec, repo_id, model)
    files[MODEL_INDEX_FILE] = model_index_yaml(card_data).encode()
    files[SNIPPET_FILE] = snippet_text(card_data, model, repo_id).encode()
    return files, card_data


def _leaderboard_files(target: LeaderboardTarget, repo_id: str) -> dict[str, bytes]:
    from rmbench.names import check_name
    from rmbench.publish.card import task_spec_fields
    from rmbench.publish.leaderboard_card import leaderboard_card
    from rmbench.publish.tables import entries_frame, parquet_bytes

    task = check_name(str(target.doc["task"]["name"]), "task name")
    board_path, entries_path = f"leaderboards/{task}.json", "data/entries.parquet"
    files = {board_path: target.raw, entries_path: parquet_bytes(entries_frame(target.doc["entries"]))}
    for run_dir, run_files in target.runs.items():
        files |= {f"runs/{run_dir.strip('/')}/{name}": data for name, data in run_files.items()}
    spec = task_spec_fields(task)
    files[CARD_FILE] = leaderboard_card(target, board_path, entries_path, spec, repo_id).encode()
    return files


def file_names(subsets: list[str]) -> dict[str, str]:
    """A file name (without extension) per subset: the name itself where it is a safe path component,
    else with unsafe characters replaced by ``_`` and a short hash so two subsets never share a file.

    >>> file_names(["llmbar-natural", "a/b"])
    {'llmbar-natural': 'llmbar-natural', 'a/b': 'a_b-c14cddc0'}
    """
    from rmbench.names import name_problem

    out = {}
    for s in subsets:
        if name_problem(s) is None:
            out[s] = s
        else:
            safe = re.sub(r"[^A-Za-z0-9._-]+", "_", s).strip("._") or "subset"
            out[s] = f"{safe.replace('..', '_')[:80]}-{hashlib.sha256(s.encode()).hexdigest()[:8]}"
    return out
