"""The ``rmbench`` command line: parsing only; every command calls a library function.

``commands`` assembles the typer app from the command families (``run``, ``runs``, ``leaderboard``);
``exit_codes`` turns errors into one line and an exit code. ``app`` and ``main`` load on first use,
so ``python -m rmbench.cli.commands`` runs the module once, without a warning.
"""

from __future__ import annotations

from typing import Any

__all__ = ["app", "main"]


def main() -> None:
    """The ``rmbench`` console script."""
    from rmbench.cli.commands import main as run_main

    run_main()


def __getattr__(name: str) -> Any:
    if name == "app":
        from rmbench.cli.commands import app

        return app
    raise AttributeError(f"module 'rmbench.cli' has no attribute {name!r}")
