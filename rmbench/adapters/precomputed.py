"""Bring your own scores: per-item scores computed elsewhere, read from a file (``rmbench run --scores``).

The run directory, summary, statistics, ``compare``, ``gate`` and leaderboard entries are the same as
for a model scored by rmbench; only the scoring step is replaced by a lookup.

File format
-----------
* ``.jsonl``: one JSON object per line; ``.csv``: a header row, then one row per item; ``.json``: a
  list of objects. Blank lines are skipped.
* ``id``: the task's item id (see ``rmbench validate`` or a run's ``items.jsonl``). With
  ``by_order=True`` (``--scores-by-order``) rows are matched to the run's examples in order instead;
  the row count must equal the example count, and an ``id`` column, when present, is still checked.
* Score fields by example kind (lists: in a CSV cell, a JSON list such as ``[0.1, 0.3]``):

  - pairwise: ``chosen`` and ``rejected``, numbers; or the **A/B layout** ``score_a`` and
    ``score_b``: scores of the example's response A and B as the data file shows them, for tasks that
    record which one was preferred (``meta["chosen_position"]``: LLMBar, MT-Bench human, and ``pairs`` /
    ``judge-pairs`` in their label layout). One layout per row;
  - multi_response: ``correct`` and ``incorrect``, lists of numbers in the example's response order;
    or ``scores``, one list: the correct responses' scores, then the incorrect ones';
  - stepwise: ``step_scores``, one number per step (the probability that the step is correct). The
    predicted first error is the first step scored below the threshold (``threshold``, default 0.5,
    recorded in ``run.json``), as for a process reward model; an optional ``first_error`` column (a
    0-based step index, or -1 / null / empty for "no error") replaces that prediction, e.g. for a
    critic's answers;
  - claims: ``verdict``, one of the task's classes (empty: no verdict; :mod:`rmbench.adapters.claims.verdicts`).

* Optional ``invalid``: ``true`` / ``1`` marks an item the model could not score; it is graded under
  the run's invalid policy. Other columns are ignored.

Errors name ``file:line`` and the field: non-numeric or non-finite scores, a list of the wrong length,
a duplicate id, an id that is not an item of the task, and items of the run with no row. Ids outside
the run's selection are only an error when the run is not restricted with ``--limit`` / ``--subset``
(a file for the whole task is fine for a limited run).
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rmbench.adapters.steps.thresholds import DEFAULT_THRESHOLD
from rmbench.datatypes import (
    ClaimExample,
    Example,
    MultiResponseExample,
    PairwiseExample,
    Prediction,
    StepwiseExample,
)
from rmbench.errors import RecordError, UserError

LAYOUTS: dict[str, tuple[tuple[str, ...], ...]] = {
    "pairwise": (("chosen", "rejected"), ("score_a", "score_b")),
    "multi_response": (("correct", "incorrect"), ("scores",)),
    "stepwise": (("step_scores",),),
    "claims": (("verdict",),),  # rmbench.adapters.claims.verdicts (issue 13)
}
"""Score columns by example kind: each tuple is one accepted layout."""


@dataclass(frozen=True)
class ScoreRow:
    """One row of a scores file, with its 1-based line for messages."""

    line: int
    data: dict[str, Any]


def read_rows(path: Path) -> list[ScoreRow]:
    """Rows of a ``.jsonl``, ``.csv`` or ``.json`` scores file, each with the line it starts on."""
    if not path.is_file():
        raise UserError(f"{path}: scores file not found")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return list(_csv_rows(path))
    if suffix == ".jsonl":
        rows = []
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise RecordError(str(path), i, f"invalid JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise RecordError(str(path), i, "expected a JSON object")
            rows.append(ScoreRow(i, obj))
        return rows
    if suffix == ".json":
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise RecordError(str(path), exc.lineno, f"invalid JSON ({exc.msg})") from None
        if not isinstance(doc, list) or not all(isinstance(r, dict) for r in doc):
            raise UserError(f"{path}: a .json scores file must be a list of objects")
        return [ScoreRow(i, r) for i, r in enumerate(doc, start=1)]  # record index, as in sources.py
    raise UserError(f"{path}: unknown scores file type '{suffix}'", hint="use .jsonl, .csv or .json")


def _csv_rows(path: Path) -> Iterator[ScoreRow]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        start = 2
        for row in reader:
            if any((v or "").strip() for v in row.values() if isinstance(v, str)):
                yield ScoreRow(start, {k: v for k, v in row.items() if k is not None})
            start = reader.line_num + 1


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _number(value: Any, path: Path, row: ScoreRow, field: str) -> float:
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise RecordError(str(path), row.line, f"not a number: {value!r}", field=field) from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RecordError(str(path), row.line, f"not a number: {value!r}", field=field)
    if not math.isfinite(value):
        raise RecordError(str(path), row.line, f"not a finite number: {value!r}", field=field,
                          hint="mark items the model could not score with an 'invalid' column instead")
    return float(value)


def _numbers(value: Any, path: Path, row: ScoreRow, field: str, expected: int) -> list[float]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise RecordError(str(path), row.line, f"expected a JSON list of numbers, got {value!r}", field=field) from None
    if not isinstance(value, list):
        raise RecordError(str(path), row.line, f"expected a list of numbers, got {value!r}", field=field)
    if len(value) != expected:
        raise RecordError(str(path), row.line, f"{len(value)} scores, but the item has {expected} responses here",
                          field=field)
    return [_number(v, path, row, f"{field}[{i}]") for i, v in enumerate(value)]


def _layout_of(row: ScoreRow, layouts: Sequence[tuple[str, ...]], path: Path) -> tuple[str, ...]:
    """The one score layout whose columns the row fills; an error naming what is missing otherwise."""
    filled = [names for names in layouts if any(row.data.get(n) not in (None, "") for n in names)]
    if len(filled) > 1:
        shown = " and ".join("/".join(names) for names in filled)
        raise RecordError(str(path), row.line, f"row mixes two score layouts ({shown}); use one")
    names = filled[0] if filled else layouts[0]
    for name in names:
        if row.data.get(name) in (None, ""):
            expected = " or ".join("+".join(n) for n in layouts)
            raise RecordError(str(path), row.line, f"missing score (expected {expected})", field=name)
    return names


def _chosen_first(ex: PairwiseExample, path: Path, row: ScoreRow) -> bool:
    """Whether response A of the data file is the example's chosen response."""
    position = str(ex.meta.get("chosen_position", "")).strip().lower()
    if position not in ("a", "b"):
        raise RecordError(
            str(path), row.line, f"item '{ex.id}' does not record which response was A, so score_a/score_b "
            "cannot be matched to chosen/rejected", field="score_a",
            hint="use the chosen/rejected columns, or a task in the label layout (response_a, response_b, label)",
        )
    return position == "a"


def _step_index(value: Any, n_steps: int, path: Path, row: ScoreRow) -> int | None:
    """A predicted 0-based first-error index; -1 means "no error"."""
    text = str(value).strip()
    if isinstance(value, bool) or not text.lstrip("-").isdigit() or not -1 <= int(text) < n_steps:
        raise RecordError(str(path), row.line, f"expected a step index 0..{n_steps - 1} or -1, got {value!r}",
                          field="first_error")
    return None if int(text) == -1 else int(text)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


class PrecomputedAdapter:
    """An adapter whose "model" is a file of per-item scores (see the module docstring).

    Call :meth:`bind` with the run's examples before :meth:`score`: it matches rows to items and
    validates the whole file up front, so a bad row fails the run before anything is written.
    """

    kind = "precomputed"

    def __init__(
        self, path: Path, by_order: bool = False, model_id: str | None = None, threshold: float | None = None
    ) -> None:
        self.path = Path(path)
        self.by_order = by_order
        self.threshold = DEFAULT_THRESHOLD if threshold is None else float(threshold)
        self.rows = read_rows(self.path)
        self.sha256 = sha256_file(self.path)
        self.model_id = model_id or f"precomputed:{self.path.stem}"
        self._predictions: dict[str, Prediction] | None = None
        self._stepwise = False

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.model_id,
            "kind": self.kind,
            "scores_file": str(self.path),
            "scores_sha256": self.sha256,
            "revision": f"sha256:{self.sha256}",  # part of the run identity: a changed file is a new run
            "by_order": self.by_order,
            "rows": len(self.rows),
            # step tasks only: a step scored below it is the predicted first error
            **({"threshold": self.threshold} if self._stepwise else {}),
        }

    def bind(self, examples: Sequence[Example], *, restricted: bool = False) -> None:
        """Match rows to ``examples`` (by id, or by order) and parse every score."""
        path = self.path
        self._stepwise = any(isinstance(ex, StepwiseExample) for ex in examples)
        if self.by_order:
            if len(self.rows) != len(examples):
                raise UserError(
                    f"{path}: {len(self.rows)} score rows but the run has {len(examples)} examples "
                    "(--scores-by-order needs one row per example, in order)",
                    hint="produce the file for the same task, --limit and --subset, or key rows by 'id'",
                )
            pairs = list(zip(self.rows, examples, strict=True))
            for k, (row, ex) in enumerate(pairs, start=1):
                if row.data.get("id") not in (None, "") and str(row.data["id"]) != ex.id:
                    raise RecordError(str(path), row.line, f"row is for '{row.data['id']}' but example {k} "
                                      f"in order is '{ex.id}'", field="id")
        else:
            by_id = {ex.id: ex for ex in examples}
            seen: dict[str, int] = {}
            pairs = []
            for row in self.rows:
                if row.data.get("id") in (None, ""):
                    raise RecordError(str(path), row.line, "missing item id", field="id",
                                      hint="add an 'id' column, or pass --scores-by-order")
                rid = str(row.data["id"])
                if rid in seen:
                    raise RecordError(str(path), row.line, f"duplicate id '{rid}' (first at line {seen[rid]})", field="id")
                seen[rid] = row.line
                if rid not in by_id:
                    if restricted:
                        continue
                    raise RecordError(str(path), row.line, f"unknown item id '{rid}': not an item of this task",
                                      field="id")
                pairs.append((row, by_id[rid]))
        predictions = {ex.id: self._parse(row, ex) for row, ex in pairs}  # row errors first: they name a line
        missing = [ex.id for ex in examples if ex.id not in predictions]
        if missing:
            raise UserError(f"{path}: no scores for {len(missing)} of {len(examples)} items "
                            f"(e.g. {', '.join(repr(m) for m in missing[:5])})")
        self._predictions = predictions

    def _parse(self, row: ScoreRow, ex: Example) -> Prediction:
        layouts = LAYOUTS.get(ex.kind)
        if layouts is None:
            raise UserError(
                f"precomputed scores support pairwise, multi_response, stepwise and claims tasks, not '{ex.kind}'"
            )
        names = ("verdict",) if isinstance(ex, ClaimExample) else _layout_of(row, layouts, self.path)
        invalid = _truthy(row.data.get("invalid", False))
        if isinstance(ex, PairwiseExample):
            scores: dict[str, Any] = {n: _number(row.data[n], self.path, row, n) for n in names}
            if names == ("score_a", "score_b"):
                first = _chosen_first(ex, self.path, row)
                a, b = scores["score_a"], scores["score_b"]
                scores = {"chosen": a if first else b, "rejected": b if first else a}
        elif isinstance(ex, MultiResponseExample):
            k, n = len(ex.correct), len(ex.correct) + len(ex.incorrect)
            if names == ("scores",):
                flat = _numbers(row.data["scores"], self.path, row, "scores", n)
                scores = {"correct": flat[:k], "incorrect": flat[k:]}
            else:
                scores = {"correct": _numbers(row.data["correct"], self.path, row, "correct", k),
                          "incorrect": _numbers(row.data["incorrect"], self.path, row, "incorrect", n - k)}
        elif isinstance(ex, ClaimExample):
            from rmbench.adapters.claims.verdicts import parse_verdict

            verdict = parse_verdict(row.data, ex, self.path, row.line)
            scores, invalid = {"verdict": verdict}, invalid or verdict is None
        else:
            assert isinstance(ex, StepwiseExample)
            scores = self._steps(row, ex)
        return Prediction(scores=scores, tokens=0, invalid=invalid, extra={"scores_line": row.line})

    def _steps(self, row: ScoreRow, ex: StepwiseExample) -> dict[str, Any]:
        """Step scores, the threshold and the predicted first error (the file's, or the first step below)."""
        from rmbench.adapters.steps.metrics import first_below

        steps = _numbers(row.data["step_scores"], self.path, row, "step_scores", len(ex.steps))
        if row.data.get("first_error") in (None, ""):
            predicted = first_below(steps, self.threshold)
        else:
            predicted = _step_index(row.data["first_error"], len(ex.steps), self.path, row)
        return {"step_scores": steps, "threshold": self.threshold, "first_error": predicted}

    def score(self, examples: Sequence[Example]) -> list[Prediction]:
        if self._predictions is None:
            if self.by_order:
                raise RuntimeError("PrecomputedAdapter(by_order=True): call bind() with all examples first")
            self.bind(examples, restricted=True)
        assert self._predictions is not None
        missing = [ex.id for ex in examples if ex.id not in self._predictions]
        if missing:
            raise UserError(f"{self.path}: no scores for item(s) {', '.join(missing[:5])}")
        return [self._predictions[ex.id] for ex in examples]
