"""Names that become parts of file paths: task names, prompt template names, run folder names.

A task named ``../../../escaped`` would otherwise write its run folder (``runs/<task>/...``) and its
leaderboard (``leaderboards/<task>.json``) outside the intended folders. Every such name is checked
against one rule, :data:`SAFE_NAME`: a letter or digit first, then letters, digits, ``.``, ``_`` or
``-``, and no ``..`` anywhere. So a checked name is a single path component that is neither hidden
nor a parent reference.
"""

from __future__ import annotations

import re

from rmbench.errors import UserError

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_MAX_LEN = 128


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be used as a path component, or ``None`` when it can.

    >>> name_problem("rewardbench-2") is None
    True
    >>> name_problem("../x")
    "must start with a letter or digit and use only letters, digits, '.', '_' and '-' (got '../x')"
    """
    if not isinstance(name, str) or not SAFE_NAME.fullmatch(name):
        return f"must start with a letter or digit and use only letters, digits, '.', '_' and '-' (got {name!r})"
    if ".." in name:
        return f"must not contain '..' (got {name!r})"
    if len(name) > _MAX_LEN:
        return f"must be at most {_MAX_LEN} characters (got {len(name)})"
    return None


def check_name(name: str, what: str) -> str:
    """``name`` unchanged, or a :class:`UserError` saying which ``what`` (e.g. "task name") is unsafe."""
    problem = name_problem(name)
    if problem:
        raise UserError(f"{what} {problem}", hint="names are used in file paths, so they are a single safe word")
    return name


def slugify(text: str, max_len: int = 60, fallback: str = "model") -> str:
    """A safe name made from free text (a model id, a Hub id, a path): unsafe runs of characters become
    ``_`` and the *end* is kept when it is long (the end of a model path names the model). A result that
    would still be unsafe (``..``, a leading ``.`` or ``-``) is repaired: ``..`` becomes ``_`` and leading
    punctuation is dropped. Names that were already safe keep the form earlier versions gave them, so
    default run folders of existing runs do not move.

    >>> slugify("../../../escaped")
    'escaped'
    >>> slugify("org/model@main")
    'org_model_main'
    """
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[-max_len:] or fallback
    if name_problem(slug) is None:
        return slug
    slug = re.sub(r"\.{2,}", "_", slug).lstrip("._-").rstrip("_")
    return slug if slug and name_problem(slug) is None else fallback
