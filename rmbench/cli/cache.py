"""``rmbench cache info`` and ``rmbench cache prune``: inspect and trim the shared score cache."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from rmbench.cli.output import console
from rmbench.errors import UserError

if TYPE_CHECKING:
    from rmbench.cache.store import ScoreStore

cache_app = typer.Typer(no_args_is_help=True, help="The shared score cache ($RMBENCH_CACHE/scores; docs/cache.md).")

CacheDir = Annotated[Optional[Path], typer.Option(
    "--cache-dir", help="The score cache folder (default: $RMBENCH_SCORE_CACHE, else $RMBENCH_CACHE/scores).")]


@cache_app.command()
def info(cache_dir: CacheDir = None) -> None:
    """Where the cache is, its entries and size, and entries per model and kind."""
    from rich.table import Table

    from rmbench.cache.limits import format_bytes, max_cache_bytes

    store = _open(cache_dir)
    try:
        facts = store.info()
    finally:
        store.close()
    out = console()
    out.print(f"location: {facts['location']}")
    out.print(f"entries: {facts['entries']} ({format_bytes(facts['entry_bytes'])} of {format_bytes(max_cache_bytes())} "
              f"allowed; file {format_bytes(facts['file_bytes'])})")
    table = Table(title="entries by model and kind")
    for col in ("model", "kind", "entries", "size"):
        table.add_column(col, overflow="fold")
    for row in facts["by_model"]:
        table.add_row(row["model"], row["kind"], str(row["entries"]), format_bytes(row["bytes"]))
    out.print(table)


@cache_app.command()
def prune(
    max_size: Annotated[Optional[str], typer.Option(
        help="Remove least recently used entries until the cache holds at most this much (e.g. 500MB, 2GB).")] = None,
    older_than: Annotated[Optional[str], typer.Option(
        help="Remove entries not used for this long (e.g. 12h, 30d, 2w).")] = None,
    model: Annotated[Optional[str], typer.Option(
        help="Remove the entries of this model (its --model as written to rmbench run).")] = None,
    cache_dir: CacheDir = None,
) -> None:
    """Remove entries: least recently used past a size, unused for a time, or of one model."""
    from rmbench.cache.limits import format_bytes, parse_age, parse_size

    if max_size is None and older_than is None and model is None:
        raise UserError("cache prune: give --max-size, --older-than and/or --model", hint="see rmbench cache prune --help")
    limit = parse_size(max_size) if max_size is not None else None
    age = parse_age(older_than) if older_than is not None else None
    store = _open(cache_dir)
    try:
        removed = store.prune(age, model) if age is not None or model is not None else 0
        if limit is not None:
            removed += store.evict_to(limit)
        left = store.info()
    finally:
        store.close()
    console().print(f"removed {removed} entries; {left['entries']} left ({format_bytes(left['entry_bytes'])})")


def _open(cache_dir: Path | None) -> ScoreStore:
    from rmbench.cache.store import ScoreStore, default_folder

    folder = cache_dir or default_folder()
    if folder is None:
        raise UserError("the score cache is off (RMBENCH_SCORE_CACHE=off)", hint="pass --cache-dir FOLDER")
    try:
        return ScoreStore(folder)
    except (sqlite3.Error, OSError) as exc:
        raise UserError(f"cannot read the score cache in {folder}: {exc}",
                        hint=f"delete {folder} to start an empty cache") from None
