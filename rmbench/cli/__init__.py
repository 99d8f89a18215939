"""The ``rmbench`` command line: parsing only; every command calls a library function.

``commands`` holds the typer app; ``exit_codes`` turns errors into one line and an exit code.
"""

from rmbench.cli.commands import app, main

__all__ = ["app", "main"]
