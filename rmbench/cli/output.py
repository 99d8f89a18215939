"""Where commands print and write: a rich console, and the optional ``--md`` / ``--json`` files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


def console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr)


def write_outputs(md: Path | None, md_text: str | None, json_path: Path | None, payload: object) -> None:
    """Write ``md_text`` to ``md`` and ``payload`` as JSON to ``json_path``, each when its path is given."""
    import json

    from rmbench.results.files import atomic_write_text

    if md is not None and md_text is not None:
        atomic_write_text(md, md_text)
    if json_path is not None:
        atomic_write_text(json_path, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
