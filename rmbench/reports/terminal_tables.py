"""Tables that stay readable on an 80-column terminal (used by ``compare``, ``gate`` and ``list``).

Rich squeezes a table that is too wide by cutting every cell to ``…``: subset names all became
``llmbar…`` and intervals ``[+13.…``. Instead, :func:`fit_tables` puts an interval on its own line
under the value, shortens long row labels from the middle (at 16 characters ``llmbar-a…GPTInst`` stays distinct
from ``llmbar-a…-GPTOut``), and moves columns that still do not fit into further tables that
repeat the row labels. Cells are never cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

BORDER = 3
"""Characters a column adds to a table's width (padding and rule)."""


def middle_ellipsis(text: str, width: int) -> str:
    """``text`` shortened to ``width`` characters by replacing its middle with ``…``.

    >>> middle_ellipsis("llmbar-adver-GPTInst", 16), middle_ellipsis("short", 16)
    ('llmbar-a…GPTInst', 'short')
    """
    if len(text) <= width:
        return text
    tail = (width - 1) // 2
    head = width - 1 - tail
    return text[:head] + "…" + text[len(text) - tail :]


def stack_interval(cell: str) -> str:
    """``"57.5 [42.5, 72.5]"`` -> the value over its interval, so the interval is never cut.

    >>> stack_interval("57.5 [42.5, 72.5]")
    '57.5\\n[42.5, 72.5]'
    """
    value, sep, rest = cell.partition(" [")
    return f"{value}\n[{rest}" if sep else cell


def _width(cell: str) -> int:
    return max((len(line) for line in cell.split("\n")), default=0)


def fit_tables(
    title: str, header: Sequence[str], rows: Sequence[Sequence[str]], width: int, *,
    fixed: int = 1, label_width: int | None = None, row_styles: Sequence[str | None] | None = None,
) -> list[Any]:
    """Rich tables showing ``rows`` within ``width`` characters; the first ``fixed`` columns repeat.

    Labels (column 0) longer than ``label_width`` (default ``max(12, width // 4)``) are shortened
    from the middle; a cell ``"v [lo, hi]"`` is shown as ``v`` over ``[lo, hi]``. Cells are escaped
    (no rich markup).
    """
    from rich.markup import escape
    from rich.table import Table

    limit = label_width or max(12, width // 4)
    cells = [[middle_ellipsis(r[0], limit), *(stack_interval(c) for c in r[1:])] for r in rows]
    widths = [max(_width(header[j]), *(_width(r[j]) for r in cells)) + BORDER for j in range(len(header))]
    base = sum(widths[:fixed]) + 1
    parts: list[list[int]] = [[]]
    used = base
    for j in range(fixed, len(header)):
        if parts[-1] and used + widths[j] > width:
            parts.append([])
            used = base
        parts[-1].append(j)
        used += widths[j]
    tables = []
    for k, cols in enumerate(parts):
        t = Table(title=escape(title + (f" ({k + 1}/{len(parts)})" if len(parts) > 1 else "")))
        for j in (*range(fixed), *cols):
            t.add_column(escape(header[j]), justify="left" if j == 0 else "right", no_wrap=True)
        for i, r in enumerate(cells):
            t.add_row(*(escape(r[j]) for j in (*range(fixed), *cols)), style=row_styles[i] if row_styles else None)
        tables.append(t)
    return tables


def shorten_words(text: str, limit: int) -> str:
    """The first line of ``text``, cut at a word boundary to at most ``limit`` characters (``…`` added).

    >>> shorten_words("LLMBar (Zeng et al., ICLR 2024): does an evaluator prefer", 30)
    'LLMBar (Zeng et al., ICLR…'
    """
    line = text.strip().splitlines()[0] if text.strip() else ""
    if len(line) <= limit:
        return line
    cut = line[: limit - 1].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"
