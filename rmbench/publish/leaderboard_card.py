"""The dataset card of a published leaderboard: ranked entries with intervals, manifest, how to verify."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rmbench.publish.card import DEFAULT_CONFIG, card_text, config_entries, dataset_card_data, hub_licenses
from rmbench.publish.run_card import licence_lines
from rmbench.publish.target import LeaderboardTarget


def leaderboard_card(target: LeaderboardTarget, board_path: str, entries_path: str, spec: Mapping[str, Any],
                     repo_id: str) -> str:
    """``README.md`` for a leaderboard: YAML metadata (licence, tags, the entries table as config) and body."""
    doc = target.doc
    task = doc["task"]
    hub = spec.get("hub")
    data = dataset_card_data(licenses=hub_licenses(spec.get("license")),
                             tags=["rmbench", "reward-model-evaluation", "leaderboard", f"task:{task['name']}"],
                             configs=config_entries({DEFAULT_CONFIG: [entries_path]}),
                             pretty_name=f"rmbench leaderboard: {task['name']} v{task['version']}",
                             source_datasets=[hub["path"]] if hub else ())
    return card_text(data, leaderboard_body(doc, board_path, entries_path, spec, repo_id))


def leaderboard_body(doc: Mapping[str, Any], board_path: str, entries_path: str, spec: Mapping[str, Any],
                     repo_id: str) -> str:
    from rmbench.reports.numbers import fmt_interval

    task, ranking = doc["task"], doc["ranking"]
    metric = task["primary_metric"]
    lines = [f"# Leaderboard: {task['name']} (v{task['version']})", ""]
    if spec.get("description"):
        lines += [str(spec["description"]), ""]
    lines += [f"{len(doc['entries'])} entries on the same items (data fingerprint `{doc['data_fingerprint']}`), "
              f"ranked by {metric} with a {ranking['method']} test ({ranking['n_resamples']} resamples, "
              f"seed {ranking['seed']}, confidence {ranking['confidence']}). Scores in percent with each run's "
              "bootstrap interval; `rank range` is the ranks an entry could hold given the evidence.", "",
              f"| rank | rank range | entry | kind | {metric} (95% CI) | n | complete |", "|---|---|---|---|---|---|---|"]
    for e in doc["entries"]:
        low, high = e["rank_range"]
        est = e["overall"]["metrics"].get(metric)
        lines.append(f"| {e['rank']} | {low}-{high} | `{e['name']}` | {e['model'].get('kind')} | {fmt_interval(est)} "
                     f"| {e['overall']['n_items']} | {'yes' if e.get('complete') else 'no'} |")
    lines += ["", "## Files", "",
              f"- `{board_path}`: the leaderboard file (schema `{doc['schema']}`, {doc.get('generated_by')}), "
              "byte for byte;",
              "- `runs/<run_dir>/`: each entry's `run.json` and `items.jsonl` (with `summary.json` and "
              "`report.md` where the run has them), the files the leaderboard's manifest hashes name;",
              f"- `{entries_path}`: the entries as a table (columns flattened with `.`, e.g. "
              f"`overall.metrics.{metric}.low`; lists as JSON strings).",
              "", "## Verify", "",
              "Every number, rank and hash is recomputed from the runs' per-item files:", "", "```",
              f"hf download {repo_id} --repo-type dataset --local-dir results",
              f"rmbench leaderboard verify results/{board_path} --runs-root results/runs --data-dir DATA",
              "```", "",
              "A submission arrives as a pull request adding a run under `runs/` and the rebuilt leaderboard; "
              "the maintainer checks it out and runs the command above (exit 0: every number reproduces)."]
    lines += licence_lines(spec)
    return "\n".join(lines) + "\n"
