"""Backend errors are not verdicts: how a run stores, counts, retries and stops on them.

An item whose evaluator could not get an answer from its backend (an API server that kept failing:
HTTP 5xx or 429 after the retries, timeouts, malformed bodies) is stored in ``items.jsonl`` as an
*error item*:

* ``extra["error"]`` keeps the failure as the server reported it (status and message), and the raw
  ``scores`` keep every request's own error;
* ``metrics`` and ``baselines`` are empty and ``invalid`` is 0: the item is in no denominator (not
  counted wrong, not excluded under a policy: simply not graded), and the summary counts it under
  ``results["errors"]``;
* a resumed run asks it again (:func:`pending_examples`), and the new line replaces it (the last
  line for an id wins when ``items.jsonl`` is read);
* :class:`ConsecutiveErrors` stops the run with the server's message (:class:`UserError`, exit 2)
  after N error items in a row, once the items of the chunk are saved.

Unparseable replies are different: the model answered, and the run's invalid policy applies to them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rmbench.datatypes import Example, ItemResult, Prediction
from rmbench.errors import UserError

ERROR_KEY = "error"
DEFAULT_MAX_CONSECUTIVE = 5
ERROR_POLICY = "not graded: in no denominator; asked again when the run is resumed"


def is_error(item: ItemResult) -> bool:
    """Whether ``item`` records a backend failure instead of a graded result."""
    return bool(item.extra.get(ERROR_KEY)) if isinstance(item.extra, Mapping) else False


def error_item(example: Example, pred: Prediction) -> ItemResult:
    """The stored line for an example whose prediction failed at the backend (``pred.error``)."""
    return ItemResult(
        id=example.id,
        subset=example.subset,
        cluster=example.cluster,  # type: ignore[union-attr]
        example_hash=example.content_hash(),
        metrics={},
        scores={**pred.scores, "tokens": pred.tokens},
        extra={**pred.extra, ERROR_KEY: pred.error},
    )


def pending_examples(examples: Sequence[Example], existing: Mapping[str, ItemResult]) -> list[Example]:
    """Examples still to score: never scored, or stored as an error item."""
    return [e for e in examples if e.id not in existing or is_error(existing[e.id])]


def split_errors(items: Sequence[ItemResult]) -> tuple[list[ItemResult], list[ItemResult]]:
    """(graded items, error items), each in the given order."""
    graded = [it for it in items if not is_error(it)]
    return graded, [it for it in items if is_error(it)]


def errors_block(errors: Sequence[ItemResult], shown: int = 3) -> dict[str, Any]:
    """The summary's ``results["errors"]``: how many items failed, by subset, and a few messages."""
    by_subset: dict[str, int] = {}
    for it in errors:
        by_subset[it.subset] = by_subset.get(it.subset, 0) + 1
    return {
        "n_items": len(errors),
        "by_subset": by_subset,
        "examples": [{"id": it.id, "error": str(it.extra[ERROR_KEY])} for it in errors[:shown]],
        "policy": ERROR_POLICY,
    }


class ConsecutiveErrors:
    """Counts error items in the order they are scored; :meth:`check` raises after ``limit`` in a row.

    ``limit`` 0 never raises (every item is tried; errors are only counted in the summary).
    """

    def __init__(self, limit: int = DEFAULT_MAX_CONSECUTIVE) -> None:
        if limit < 0:
            raise UserError(f"--max-consecutive-errors must be 0 (never stop) or more, got {limit}")
        self.limit = limit
        self.streak = 0

    def check(self, items: Sequence[ItemResult]) -> None:
        """Update the count with a saved chunk; :class:`UserError` with the last server message."""
        last = ""
        for it in items:
            if is_error(it):
                self.streak += 1
                last = str(it.extra[ERROR_KEY])
            else:
                self.streak = 0
        if self.limit and self.streak >= self.limit:
            raise UserError(
                f"stopped after {self.streak} consecutive items failed at the backend; last error: {last}",
                hint="everything scored so far is saved; rerun the same command when the server is back "
                "(failed items are asked again), or set --max-consecutive-errors (0: never stop)",
            )


def error_notes(summary: Mapping[str, Any]) -> list[str]:
    """Report lines on backend errors (none when every item was graded)."""
    block = summary["results"].get("errors") or {}
    n = int(block.get("n_items") or 0)
    if not n:
        return []
    examples = block.get("examples") or []
    example = f" First error: `{examples[0]['error']}`." if examples else ""
    where = ", ".join(f"{s}: {k}" for s, k in (block.get("by_subset") or {}).items())
    return [
        f"- **backend errors: {n} item{'s' if n != 1 else ''} not graded** ({where}): the backend gave no answer, "
        f"so {'they are' if n != 1 else 'it is'} in no metric, not counted wrong; rerun the same command to ask "
        f"{'them' if n != 1 else 'it'} again.{example}"
    ]
