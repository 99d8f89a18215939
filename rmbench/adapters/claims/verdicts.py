"""Bring-your-own claim verdicts: the ``verdict`` column of a ``--scores`` file for a claim task.

One row per claim id with ``verdict`` = one of the task's classes (case-insensitive, e.g.
``supported``); an empty or null verdict (or ``invalid: true``) means the external checker gave none,
graded under the run's invalid policy like an unparseable judge reply. Any other value is an error
naming the file, line and field. A retrieval-based fact-checker plugs in this way (docs/tasks.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rmbench.datatypes import ClaimExample
from rmbench.errors import RecordError


def parse_verdict(row: Mapping[str, Any], example: ClaimExample, path: Path, line: int) -> str | None:
    """The class a scores-file row's verdict names, None for no verdict (the column must exist)."""
    if "verdict" not in row:
        raise RecordError(str(path), line, f"missing (a claim row needs one of: {', '.join(example.classes)}, "
                          "or empty for no verdict)", field="verdict")
    value = row["verdict"]
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip().lower()
    if text not in example.classes:
        raise RecordError(str(path), line, f"verdict {value!r} is not one of {', '.join(example.classes)}",
                          field="verdict")
    return text
