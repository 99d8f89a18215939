"""Generations and judge replies brought from files (bring your own; the GPU-heavy stage runs anywhere).

Both files are JSON lines with an ``id`` (the RFEval instance id) per line; the task options
``generations`` and ``judgements`` name them (``--set options.generations=gens.jsonl``).

* generations: ``{"id": ..., "original": {"text": ..., "finished": true}, "intervened": {...}}``.
  ``text`` of the intervened run is what the model wrote *after* the injected ``r_prime``.
  ``finished`` defaults to true; a side may be a plain string (finished). A run's own
  ``items.jsonl`` is accepted too (its ``scores.rfeval`` block holds the same two sides), so the
  generations of one run can be judged again by another judge.
* judgements: ``{"id": ..., "original": <judge reply>, "intervened": <judge reply>}`` where a reply
  is the JSON object of the authors' schema (their ``evaluation_result``) or the raw reply text; it
  is parsed by the same strict parser as a live judge's reply.

A side left out of a line is produced by the model (generation) or the judge (judging).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rmbench.errors import RecordError, UserError

SIDES = ("original", "intervened")


def read_provided(path: str | Path, what: str) -> dict[str, dict[str, Any]]:
    """id -> {side: value} from a ``generations`` or ``judgements`` JSON-lines file."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise UserError(f"rfeval {what} file {file} does not exist", hint=f"--set options.{what}=PATH.jsonl")
    out: dict[str, dict[str, Any]] = {}
    with file.open(encoding="utf-8") as f:
        for line_no, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise RecordError(str(file), line_no, f"not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict) or not isinstance(row.get("id"), (str, int)):
                raise RecordError(str(file), line_no, "expected an object with a string id", field="id")
            sides = _sides(row, what, str(file), line_no)
            if str(row["id"]) in out:
                raise RecordError(str(file), line_no, f"id '{row['id']}' appears twice", field="id")
            out[str(row["id"])] = sides
    return out


def _sides(row: Mapping[str, Any], what: str, file: str, line: int) -> dict[str, Any]:
    block = row.get("scores", {}).get("rfeval") if isinstance(row.get("scores"), Mapping) else None
    source = block if isinstance(block, Mapping) else row
    sides: dict[str, Any] = {}
    for side in SIDES:
        if source.get(side) is None:
            continue
        value = source[side]
        if what == "generations":
            sides[side] = _generation(value, file, line, side, from_run=block is not None)
        else:
            if not isinstance(value, (str, Mapping)):
                raise RecordError(file, line, "expected a judge reply (an object or its text)", field=side)
            sides[side] = value
    if not sides:
        raise RecordError(file, line, "neither 'original' nor 'intervened' given", field="original")
    return sides


def _generation(value: Any, file: str, line: int, side: str, from_run: bool) -> dict[str, Any]:
    if isinstance(value, str):
        return {"text": value, "finished": True}
    if not isinstance(value, Mapping) or not isinstance(value.get("text"), str):
        raise RecordError(file, line, "expected a string or an object with a string 'text'", field=side)
    finished = value.get("finished", True)
    if not isinstance(finished, bool):
        raise RecordError(file, line, "expected true or false", field=f"{side}.finished")
    if from_run and value.get("source") == "none":
        raise RecordError(file, line, "this run item has no generation", field=side)
    return {"text": value["text"], "finished": finished}
