"""The dataset card of a published run: headline numbers with intervals, manifest, files, recompute."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rmbench.publish.card import (
    DEFAULT_CONFIG,
    ITEM_COLUMNS_DOC,
    card_text,
    config_entries,
    dataset_card_data,
    hub_licenses,
)
from rmbench.publish.target import RunTarget


def model_name(run: Mapping[str, Any]) -> str:
    """The model as the run recorded it (its Hub id, or the local path it was loaded from)."""
    model = run.get("model") or {}
    return str(model.get("id") or model.get("model") or run.get("config", {}).get("model", "?"))


def subset_configs(subset_files: Mapping[str, str]) -> dict[str, list[str]]:
    """Config name -> parquet paths: ``default`` (every subset) first, then one config per subset."""
    configs = {DEFAULT_CONFIG: list(subset_files.values())}
    for subset, path in subset_files.items():
        configs[f"subset-{subset}" if subset == DEFAULT_CONFIG else subset] = [path]
    return configs


def run_card(target: RunTarget, subset_files: Mapping[str, str], spec: Mapping[str, Any], repo_id: str) -> str:
    """``README.md`` for a run: YAML metadata (licence, tags, configs) and the body described above."""
    summary = target.summary
    task = summary["task"]
    hub = spec.get("hub")
    tags = ["rmbench", "reward-model-evaluation", "evaluation-results", f"task:{task['name']}",
            f"kind:{summary['config']['kind']}"]
    data = dataset_card_data(licenses=hub_licenses(spec.get("license")), tags=tags,
                             configs=config_entries(subset_configs(subset_files)),
                             pretty_name=f"rmbench: {task['name']} v{task['version']}, {model_name(summary)}",
                             source_datasets=[hub["path"]] if hub else ())
    return card_text(data, run_body(target, spec, repo_id))


def run_body(target: RunTarget, spec: Mapping[str, Any], repo_id: str) -> str:
    from rmbench.reports.run_report import policy_line, table_rows

    summary = target.summary
    task, cfg, data = summary["task"], summary["config"], summary["data"]
    header, rows = table_rows(summary)
    lines = [
        f"# {task['name']} (v{task['version']}): {model_name(summary)}",
        "",
        f"Per-item results of rmbench for the model `{model_name(summary)}` "
        f"(kind `{cfg['kind']}`) on the task `{task['name']}`: {data['n_items']} items"
        + (f" (limit {data['limit']} per subset)" if data.get("limit") else "") + ".",
    ]
    if spec.get("description"):
        lines += ["", str(spec["description"])]
    lines += ["", "## Results", "",
              f"Scores in percent with {int(cfg['confidence'] * 100)}% percentile bootstrap intervals "
              f"({cfg['n_bootstrap']} resamples, seed {cfg['seed']}; clustered by prompt where a prompt "
              "yields several comparisons).", "", policy_line(summary), "",
              "| " + " | ".join(header) + " |", "|" + "---|" * len(header),
              *["| " + " | ".join(r) + " |" for r in rows]]
    lines += [f"- **Warning:** {w}." for w in summary["results"].get("warnings", [])]
    lines += ["", "## Manifest", "", "| | |", "|---|---|", *manifest_rows(summary)]
    lines += ["", "## Files", "", ITEM_COLUMNS_DOC, "", "Model-card evaluation results of this run are in "
              "`model-index.yaml` (`model-index` metadata) and `model_card_snippet.md` (a card header to paste "
              "into the model's README)."]
    lines += ["", "## Recompute", "", *recompute_lines(repo_id, task["name"])]
    lines += licence_lines(spec)
    return "\n".join(lines) + "\n"


def manifest_rows(summary: Mapping[str, Any]) -> list[str]:
    """What determines the numbers: model hashes, task version and spec hash, data fingerprint, versions."""
    model, task, data = summary.get("model") or {}, summary["task"], summary["data"]
    env = summary.get("environment") or {}
    shown = {
        "model": model_name(summary), "model kind / backend": f"{model.get('kind')} / {model.get('backend')}",
        "model revision": model.get("revision"), "weights sha256": model.get("weights_sha256"),
        "tokenizer sha256": model.get("tokenizer_sha256"),
        "chat template sha256": model.get("chat_template_sha256") or model.get("chat_template_hash"),
        "dtype / device": f"{model.get('dtype')} / {model.get('device')}",
        "task version / spec hash": f"{task['version']} / {task.get('spec_hash')}",
        "data fingerprint": data.get("fingerprint"),
        "data source": f"{data.get('source', {}).get('kind')} ({', '.join(data.get('source', {}).get('files', {}))})",
        "items": data.get("n_items"), "rmbench": env.get("rmbench"), "transformers": env.get("transformers"),
        "torch": env.get("torch"), "finished at": (summary.get("timing") or {}).get("finished_at"),
    }
    return [f"| {name} | `{value}` |" for name, value in shown.items() if value not in (None, "None / None")]


def recompute_lines(repo_id: str, task: str) -> list[str]:
    return [
        "Every number above is recomputed from `items.jsonl` and `run.json`:", "", "```",
        f"hf download {repo_id} --repo-type dataset --local-dir {task}-run",
        f"rmbench report {task}-run --data-dir DATA   # checks each item against run.json, re-grades it, "
        "rewrites summary.json and report.md",
        "```", "",
        "`rmbench report` re-grades every item from its raw scores with the task's data (`--data-dir` or "
        "`RMBENCH_DATA_DIR`); a leaderboard built from this run is checked with `rmbench leaderboard verify`.",
        "The parquet files load with `datasets.load_dataset(\"" + repo_id + "\", \"default\", split=\"test\")` or "
        "`pandas.read_parquet`.",
    ]


def licence_lines(spec: Mapping[str, Any], extra: Sequence[str] = ()) -> list[str]:
    lines = []
    if spec.get("license"):
        lines += ["", "## Licence", "", f"The task's data: {spec['license']}. The card's `license` field lists "
                  "the Hub identifiers named there (`other` when none is).", *extra]
    if spec.get("citation"):
        lines += ["", "## Citation", "", str(spec["citation"]).strip()]
    return lines
