"""Model-card evaluation results (``model-index``) of a run, with ``huggingface_hub``'s EvalResult.

One :class:`huggingface_hub.EvalResult` per metric with a value: the overall results
(``dataset_config`` unset) and each subset (``dataset_config`` = the subset). The model-index schema
has no interval field, so the interval goes where the schema allows free-form values: ``metric_args``
holds ``ci_low``, ``ci_high``, ``confidence``, ``ci_method``, ``n_resamples``, ``seed`` and ``n``,
and ``metric_name`` shows it (``accuracy (95% CI 0.6250-0.7500)``). Values are fractions, as in
``summary.json``.

``dataset_type`` is the task's Hub dataset when its YAML names one (else the results repository),
``dataset_revision`` the Hub revision only when the run read the Hub copy; what the run did read
(source kind, data fingerprint, limit, item count) is in ``dataset_args``. ``source_url`` points at the
results repository holding the per-item files.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from rmbench.publish.tables import finite_or_none

# Hub task types by model kind: classifier heads score text; the others read a causal LM's output.
_TASK_TYPES = {"scalar": "text-classification", "baseline": "text-classification"}
TEXT_GENERATION = "text-generation"


def eval_results(summary: Mapping[str, Any], spec: Mapping[str, Any], repo_id: str) -> list[Any]:
    """EvalResults for the overall block and every subset of a run summary."""
    from huggingface_hub import EvalResult

    task, cfg, data = summary["task"], summary["config"], summary["data"]
    hub = spec.get("hub")
    read_hub = data.get("source", {}).get("kind") == "hub"
    common: dict[str, Any] = {
        "task_type": _TASK_TYPES.get(str(cfg["kind"]), TEXT_GENERATION),
        "task_name": f"reward model evaluation ({task['name']} v{task['version']}, rmbench)",
        "dataset_type": hub["path"] if hub else repo_id,
        "dataset_name": f"{task['name']} (rmbench v{task['version']})",
        "dataset_split": hub["split"] if hub and read_hub else None,
        "dataset_revision": hub["revision"] if hub and read_hub else None,
        "dataset_args": {"source": data.get("source", {}).get("kind"), "data_fingerprint": data.get("fingerprint"),
                         "limit": data.get("limit"), "n_items": data.get("n_items")},
        "source_name": "rmbench results", "source_url": f"https://huggingface.co/datasets/{repo_id}",
    }
    res = summary["results"]
    blocks: list[tuple[str | None, Mapping[str, Any]]] = [(None, res["overall"])]
    blocks += list(res["subsets"].items())
    out = []
    for config, block in blocks:
        for metric, est in block["metrics"].items():
            value = finite_or_none(est.get("value"))
            if value is None:
                continue
            out.append(EvalResult(metric_type=metric, metric_value=value, dataset_config=config,
                                  metric_name=_metric_name(metric, est), metric_args=_interval_args(est, cfg),
                                  **common))
    return out


def _interval_args(est: Mapping[str, Any], cfg: Mapping[str, Any]) -> dict[str, Any]:
    return {"ci_low": finite_or_none(est.get("low")), "ci_high": finite_or_none(est.get("high")),
            "confidence": est.get("confidence", cfg.get("confidence")),
            "ci_method": f"{est.get('method', 'percentile')} bootstrap",
            "n_resamples": est.get("n_resamples"), "seed": cfg.get("seed"), "n": est.get("n")}


def _metric_name(metric: str, est: Mapping[str, Any]) -> str:
    low, high = finite_or_none(est.get("low")), finite_or_none(est.get("high"))
    if low is None or high is None:
        return metric
    level = round(float(est.get("confidence") or 0.95) * 100)
    return f"{metric} ({level}% CI {low:.4f}-{high:.4f})"


def model_card_data(summary: Mapping[str, Any], spec: Mapping[str, Any], repo_id: str, model: str) -> Any:
    """A ``huggingface_hub.ModelCardData`` holding the run's evaluation results for ``model``."""
    from huggingface_hub import ModelCardData

    return ModelCardData(model_name=model, eval_results=eval_results(summary, spec, repo_id),
                         datasets=[repo_id])


def model_index_yaml(card_data: Any) -> str:
    """``model-index.yaml``: the ``model-index`` key alone, as the Hub reads it from a model card."""
    return yaml.safe_dump({"model-index": card_data.to_dict()["model-index"]}, sort_keys=False, allow_unicode=True)


def snippet_text(card_data: Any, model: str, repo_id: str) -> str:
    """``model_card_snippet.md``: a model-card header (YAML) with the results, to merge into a README."""
    return (f"---\n{card_data.to_yaml()}\n---\n\n"
            f"Evaluation results of `{model}` computed with rmbench; per-item results and the manifest are in "
            f"the dataset repository [{repo_id}](https://huggingface.co/datasets/{repo_id}).\n")
