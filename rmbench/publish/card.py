"""The dataset card (``README.md``) of a published run or leaderboard, built with ``huggingface_hub``.

The YAML header is a :class:`huggingface_hub.DatasetCardData`: licence (Hub identifiers read from the
task's ``license`` text; ``other`` when none is recognised), tags, and ``configs`` naming the parquet
files so ``datasets.load_dataset(repo, config)`` loads them. The body gives the headline numbers with
their intervals, the manifest, the file schema and how to recompute everything with rmbench.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from rmbench.errors import UserError
from rmbench.publish.tables import ITEMS_SCHEMA

# Hub licence identifiers for the licence names task files use (first words of their ``license`` text).
_LICENSES = (
    (r"\bApache[- ]2\.0\b", "apache-2.0"),
    (r"\bMIT\b", "mit"),
    (r"\bODC[- ]BY\b", "odc-by"),
    (r"\bCC[- ]BY[- ]NC[- ]SA[- ]4\.0\b", "cc-by-nc-sa-4.0"),
    (r"\bCC[- ]BY[- ]SA[- ]4\.0\b", "cc-by-sa-4.0"),
    (r"\bCC[- ]BY[- ]NC[- ]4\.0\b", "cc-by-nc-4.0"),
    (r"\bCC[- ]BY[- ]4\.0\b", "cc-by-4.0"),
)
DEFAULT_CONFIG = "default"
SPLIT = "test"


def hub_licenses(text: str | None) -> list[str]:
    """Hub licence ids named in a task's free-text ``license`` field, in order of appearance.

    >>> hub_licenses("MIT (LLMBar); the Hub copy is part of RewardBench (ODC-BY)")
    ['mit', 'odc-by']
    >>> hub_licenses("CC BY-NC-SA 4.0 (never bundled)"), hub_licenses("not verified here"), hub_licenses(None)
    (['cc-by-nc-sa-4.0'], [], [])
    """
    if not text:
        return []
    found: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    for pattern, ident in _LICENSES:
        for m in re.finditer(pattern, text, flags=re.IGNORECASE):
            if not any(a <= m.start() < b for a, b in taken):  # "CC BY 4.0" inside "CC BY-NC-SA 4.0" is not separate
                found.append((m.start(), ident))
                taken.append((m.start(), m.end()))
    return list(dict.fromkeys(ident for _, ident in sorted(found)))


def task_spec_fields(task_name: str) -> dict[str, Any]:
    """``license``, ``citation``, ``description`` and the Hub source of a task, when the task can be loaded
    here (a user's task folder may be absent on the publishing machine: then nothing is known)."""
    from rmbench.data.task import load_task

    try:
        spec = load_task(task_name).spec
    except UserError:
        return {}
    hub = spec.source.hub
    return {"license": spec.license, "citation": spec.citation, "description": spec.description.strip(),
            "hub": None if hub is None else {"path": hub.path, "revision": hub.revision, "split": hub.split}}


def config_entries(files_by_config: Mapping[str, Sequence[str]]) -> list[dict[str, Any]]:
    """``configs`` YAML entries (the first is the default), each with one ``test`` split of parquet files."""
    return [{"config_name": name, **({"default": True} if i == 0 else {}),
             "data_files": [{"split": SPLIT, "path": list(paths) if len(paths) > 1 else paths[0]}]}
            for i, (name, paths) in enumerate(files_by_config.items())]


def card_text(card_data: Any, body: str) -> str:
    """The card file: YAML header from ``card_data`` (a ``DatasetCardData``) and the markdown body."""
    return f"---\n{card_data.to_yaml()}\n---\n\n{body.rstrip()}\n"


def dataset_card_data(*, licenses: Sequence[str], tags: Sequence[str], configs: list[dict[str, Any]],
                      pretty_name: str, source_datasets: Sequence[str] = ()) -> Any:
    """A ``huggingface_hub.DatasetCardData``; licence ``other`` when the task names none the Hub knows."""
    from huggingface_hub import DatasetCardData

    license_value: str | list[str] = list(licenses) if len(licenses) > 1 else (licenses[0] if licenses else "other")
    return DatasetCardData(license=license_value, tags=list(tags), configs=configs, pretty_name=pretty_name,
                           source_datasets=list(source_datasets) or None)


ITEM_COLUMNS_DOC = f"""\
Per-item files (`data/<subset>.parquet`, schema `{ITEMS_SCHEMA}`; one row per line of `items.jsonl`,
the same columns in every file):

| column | type | meaning |
|---|---|---|
| `id`, `subset`, `cluster` | string | item id, subset, resampling cluster (items of one prompt share it) |
| `example_hash`, `identity` | string | hash of the scored example; hash of the run configuration |
| `ties`, `invalid` | int64 | ties and invalid predictions on this item |
| `metrics.<m>` | float64 | per-item metric `m` (null where it does not apply) |
| `baselines.<b>.<m>` | float64 | the same metric for reference scorer `b` (e.g. response length) |
| `scores.<k>` | float64 | raw score `k`, where it is a number on every item |
| `scores_json` | string | every raw output of the model for the item (JSON, sorted keys) |
| `extra_json` | string | the item's `extra` field (JSON) |

`items.jsonl` is the run's own file, byte for byte; `run.json` is the manifest written when the run
started, `summary.json` and `report.md` the results it wrote at the end."""
