"""The ``rmbench`` command line, assembled: every command, in the order ``rmbench --help`` lists them.

Parsing only: every command calls a library function. The commands live by family in
:mod:`rmbench.cli.run` (run, demo, list, validate), :mod:`rmbench.cli.runs` (report, compare, gate,
agree) and :mod:`rmbench.cli.leaderboard`; :mod:`rmbench.cli.exit_codes` turns errors into one line
and an exit code. Heavy libraries (torch, transformers, datasets, scipy) are imported inside the
commands that need them, so ``rmbench --help`` stays fast; a test checks this.
"""

from __future__ import annotations

from typing import Annotated

import typer

import rmbench.cli.run as run_commands
import rmbench.cli.runs as runs_commands
from rmbench.cli.cache import cache_app
from rmbench.cli.doctor import doctor
from rmbench.cli.faithfulness_rank import faithfulness_rank
from rmbench.cli.leaderboard import leaderboard_app
from rmbench.cli.merge import merge
from rmbench.cli.publish import publish
from rmbench.cli.rfeval_assoc import rfeval_assoc

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Benchmark reward models and LLM judges, with confidence intervals and paired tests.",
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from rmbench import __version__

        print(f"rmbench {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Benchmark reward models and LLM judges, with confidence intervals and paired tests."""


app.command()(run_commands.run)
app.command()(run_commands.demo)
app.command("list")(run_commands.list_)
app.command()(runs_commands.report)
app.command()(run_commands.validate)
app.command()(runs_commands.compare)
app.command()(runs_commands.gate)
app.command()(runs_commands.agree)
app.add_typer(leaderboard_app, name="leaderboard")
app.command()(publish)
app.command("rfeval-assoc")(rfeval_assoc)
app.command("faithfulness-rank")(faithfulness_rank)
app.command()(doctor)
app.add_typer(cache_app, name="cache")
app.command()(merge)


def main() -> None:
    """Console entry point: exit codes and one-line errors as described in :mod:`rmbench.cli.exit_codes`."""
    from rmbench.cli.exit_codes import run_cli

    run_cli(app)


if __name__ == "__main__":
    main()
