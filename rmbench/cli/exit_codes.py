"""How the ``rmbench`` command ends: its exit code and the one line a user sees for each kind of failure.

=====  ===================================================================================
exit   when
=====  ===================================================================================
0      success (and ``--help``, ``--version``)
1      a finding, not an error: ``gate`` found a regression, ``leaderboard verify`` a mismatch
2      the command cannot run as asked: a usage error (unknown option, missing or malformed
       value), bad input (:class:`~rmbench.errors.UserError`, :class:`~rmbench.errors.RecordError`),
       or the environment (``OSError``: permission denied, disk full, read-only folder)
130    interrupted (Ctrl-C); a run says how many items are saved
=====  ===================================================================================

Anything else is a bug and keeps its traceback. Usage errors are recognised for both the ``click``
package and the copy that newer ``typer`` releases vendor as ``typer._click`` (their exception classes
are unrelated, which is how usage errors once escaped as 40-line tracebacks with exit code 1 -- the code
``gate`` uses for "regression").
"""

from __future__ import annotations

import errno
import importlib
import sys
from typing import Any, NoReturn

from rmbench.errors import Interrupted, UserError

INTERRUPTED = "interrupted: finished items are saved; rerun the same command to resume"
_OS_HINTS = {
    errno.ENOSPC: "the disk is full: free some space and rerun the same command (saved items are kept)",
    errno.EDQUOT: "the disk quota is exceeded: free some space and rerun the same command (saved items are kept)",
    errno.EROFS: "the folder is on a read-only file system: choose another folder (e.g. --out)",
    errno.EACCES: "you cannot write or read there: choose another folder (e.g. --out) or fix its permissions",
    errno.EPERM: "you cannot write or read there: choose another folder (e.g. --out) or fix its permissions",
}


def run_cli(app: Any, args: list[str] | None = None) -> NoReturn:
    """Run the typer ``app`` and exit with the code of the table above."""
    try:
        code = app(args=args, standalone_mode=False)  # returns typer.Exit codes instead of raising them
    except Interrupted as exc:
        _say(str(exc))
        sys.exit(exc.exit_code)
    except UserError as exc:
        _error(str(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _say(INTERRUPTED)
        sys.exit(130)
    except SystemExit:
        raise
    except OSError as exc:
        _error(describe_os_error(exc))
        sys.exit(2)
    except Exception as exc:  # usage errors arrive here in non-standalone mode
        _usage_error_exit(exc)
        raise
    if code == 130:  # typer turns a KeyboardInterrupt outside a run into Exit(130) without a word
        _say(INTERRUPTED)
    sys.exit(code if isinstance(code, int) else 0)


def describe_os_error(exc: OSError) -> str:
    """``<path>: <reason>`` plus a hint for the usual causes (disk full, read-only, permissions)."""
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    reason = exc.strerror or str(exc) or type(exc).__name__
    head = f"{' -> '.join(paths)}: {reason}" if paths else f"{type(exc).__name__}: {reason}"
    hint = _OS_HINTS.get(exc.errno or -1)
    return f"{head}\n  hint: {hint}" if hint else head


def _usage_error_exit(exc: Exception) -> None:
    """Exit 2 with one line when ``exc`` is a click/typer usage error; return otherwise (a bug)."""
    for module in ("typer._click.exceptions", "typer.exceptions", "click.exceptions"):
        try:
            classes = importlib.import_module(module)
        except ImportError:
            continue
        no_args_help = getattr(classes, "NoArgsIsHelpError", None)
        if no_args_help is not None and isinstance(exc, no_args_help):
            exc.show()  # type: ignore[attr-defined]  # a command group given alone: its help is the answer
            sys.exit(2)
        click_exception = getattr(classes, "ClickException", None)
        if click_exception is not None and isinstance(exc, click_exception):
            _error(_usage_message(exc))
            sys.exit(2)
        abort = getattr(classes, "Abort", None)
        if abort is not None and isinstance(exc, abort):
            _say("aborted")
            sys.exit(1)


def _usage_message(exc: Any) -> str:
    message = " ".join(str(exc.format_message()).split())
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        message += f" (see '{ctx.command_path} --help')"
    return message


def _error(message: str) -> None:
    _say(f"[bold red]error:[/bold red] {_escape(message)}", markup=True)


def _say(message: str, markup: bool = False) -> None:
    from rich.console import Console

    Console(stderr=True).print(message if markup else _escape(message), highlight=False, soft_wrap=True)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
