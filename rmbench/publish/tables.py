"""Per-item results and leaderboard entries as tables (pandas) and parquet files (pyarrow).

Items schema (``ITEMS_SCHEMA``, one row per line of ``items.jsonl``; every subset file has the same
columns and types, so ``datasets`` can load them together):

==========================  =========  ================================================================
column                      type       meaning
==========================  =========  ================================================================
``id``                      string     the item id (``items.jsonl`` field ``id``)
``subset``                  string     the item's subset
``cluster``                 string     resampling cluster (items of one prompt share it)
``example_hash``            string     content hash of the example the item was scored on
``identity``                string     hash of the run configuration that wrote the line
``ties`` / ``invalid``      int64      ties and invalid predictions counted on this item
``metrics.<m>``             float64    per-item metric ``m`` (null where it does not apply)
``baselines.<b>.<m>``       float64    metric ``m`` of the reference scorer ``b`` (e.g. length)
``scores.<k>``              float64    top-level raw score ``k`` where it is a number on every item
``scores_json``             string     all raw scores (verdict text, per-step scores ...) as JSON
``extra_json``              string     the item's ``extra`` as JSON
==========================  =========  ================================================================

JSON columns are written with sorted keys, so ``json.loads`` gives back the ``items.jsonl`` values.
Leaderboard entries are flattened by :func:`pandas.json_normalize` with ``.`` separators (``rank``,
``overall.metrics.accuracy.low``, ``subsets.<s>.metrics.<m>.value`` ...); lists are JSON strings.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rmbench.datatypes import ItemResult

if TYPE_CHECKING:
    import pandas as pd

ITEMS_SCHEMA = "rmbench.publish.items/1"
_FIXED = ("id", "subset", "cluster", "example_hash", "identity", "ties", "invalid")


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _is_number(v: Any) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))


def numeric_score_keys(items: Sequence[ItemResult]) -> list[str]:
    """Top-level ``scores`` keys that are numbers (or null) on every item and a number on at least one."""
    keys = sorted({k for it in items for k in it.scores})
    return [k for k in keys
            if all(_is_number(it.scores.get(k)) for it in items) and any(it.scores.get(k) is not None for it in items)]


def _float(v: Any) -> float | None:
    return None if v is None else float(v)


def item_rows(items: Sequence[ItemResult]) -> list[dict[str, Any]]:
    """One flat dict per item, every dict with the same keys (see the module docstring)."""
    metrics = sorted({m for it in items for m in it.metrics})
    baselines = sorted({(b, m) for it in items for b, ms in it.baselines.items() for m in ms})
    scores = numeric_score_keys(items)
    rows = []
    for it in items:
        row: dict[str, Any] = {"id": it.id, "subset": it.subset, "cluster": it.cluster,
                               "example_hash": it.example_hash, "identity": it.identity,
                               "ties": int(it.ties), "invalid": int(it.invalid)}
        row |= {f"metrics.{m}": _float(it.metrics.get(m)) for m in metrics}
        row |= {f"baselines.{b}.{m}": _float(it.baselines.get(b, {}).get(m)) for b, m in baselines}
        row |= {f"scores.{k}": _float(it.scores.get(k)) for k in scores}
        row |= {"scores_json": _json(dict(it.scores)), "extra_json": _json(dict(it.extra))}
        rows.append(row)
    return rows


def items_frame(items: Sequence[ItemResult]) -> pd.DataFrame:
    """The items as a DataFrame with explicit column types (float columns stay float when all null)."""
    import pandas as pd

    rows = item_rows(items)
    columns = list(rows[0]) if rows else [*_FIXED, "scores_json", "extra_json"]
    frame = pd.DataFrame(rows, columns=columns)
    types = {c: ("int64" if c in ("ties", "invalid") else "float64" if "." in c else "string") for c in columns}
    return frame.astype(types)


def parquet_by_subset(items: Sequence[ItemResult]) -> dict[str, bytes]:
    """Subset -> parquet bytes, all with the schema of the whole table (subsets in first-seen order)."""
    import pyarrow as pa

    table = pa.Table.from_pandas(items_frame(items), preserve_index=False)
    subsets = list(dict.fromkeys(it.subset for it in items))
    out = {}
    for subset in subsets:
        mask = pa.array([it.subset == subset for it in items])
        out[subset] = parquet_bytes(table.filter(mask))
    return out


def parquet_bytes(table: Any) -> bytes:
    """A pyarrow table as parquet file bytes (a pandas DataFrame is converted first)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not isinstance(table, pa.Table):
        table = pa.Table.from_pandas(table, preserve_index=False)
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def entries_frame(entries: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Leaderboard entries flattened with ``.`` separators; list values as JSON strings."""
    import pandas as pd

    def lists_as_json(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: lists_as_json(v) for k, v in value.items()}
        return _json(value) if isinstance(value, list) else value

    return pd.json_normalize([lists_as_json(dict(e)) for e in entries], sep=".")


def finite_or_none(x: Any) -> float | None:
    """``x`` as a float, or ``None`` when missing or not finite (NaN is no published number)."""
    if x is None:
        return None
    value = float(x)
    return value if math.isfinite(value) else None
