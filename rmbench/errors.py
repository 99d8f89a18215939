"""Errors that mean "the user asked for something we cannot do", as opposed to bugs.

The CLI turns a :class:`UserError` into one readable message and exit code 2, never a traceback.
Everything that names a place in an input file (file, line, field) uses :class:`RecordError` so
messages look the same everywhere.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input or environment (bad file, unknown task, missing package)."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class RecordError(UserError):
    """A malformed record in a data file: names the file, the 1-based line (or record index) and the field."""

    def __init__(
        self,
        file: str,
        line: int | None,
        message: str,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        where = file if line is None else f"{file}:{line}"
        what = f"field '{field}': {message}" if field else message
        super().__init__(f"{where}: {what}", hint)
        self.file = file
        self.line = line
        self.field = field


class BackendRefused(UserError):
    """A backend cannot perform an operation (e.g. token log-probabilities from a server that gives none)."""


class Interrupted(UserError):
    """Ctrl-C (SIGINT) during a run: says how many items are saved; the CLI exits 130 (128 + SIGINT)."""

    exit_code = 130

    def __init__(self, saved: int, total: int, run_dir: str) -> None:
        super().__init__(f"interrupted: {saved} of {total} items saved in {run_dir}, rerun the same command to resume")
        self.saved = saved
        self.total = total
        self.run_dir = run_dir
