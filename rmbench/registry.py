"""A small registry: names mapped to objects, written out as one table, loaded when first asked for.

Every pluggable part of rmbench (graders, cluster graders, converters, adapters per kind and backend)
is found through a :class:`Registry` whose entries are listed in one place, in code, as lazy
``"module:object"`` targets. Nothing registers itself when its module is imported, so what exists is
what the table says, a module is imported only when one of its entries is used, and a second entry
under a taken name is an error instead of a silent overwrite.

>>> reg = Registry("greeting", {"plain": "builtins:str"})
>>> reg.get("plain") is str
True
>>> reg.add("plain", "builtins:repr")
Traceback (most recent call last):
...
rmbench.registry.DuplicateName: greeting 'plain' is already registered (as 'builtins:str')
>>> reg.get("plian")
Traceback (most recent call last):
...
rmbench.registry.UnknownName: unknown greeting 'plian'
  hint: did you mean 'plain'? (known: plain)
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterator, Mapping
from typing import Generic, TypeVar, cast

from rmbench.errors import UserError

T = TypeVar("T")


class UnknownName(UserError, LookupError):
    """A name the registry does not have; the hint names the closest known one."""


class DuplicateName(ValueError):
    """A second entry under a name that is taken (a programming error, not a user one)."""


def load_target(target: str) -> object:
    """The object a ``"package.module:attr"`` string names (``attr`` may be dotted)."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"registry target '{target}' is not of the form 'module:object'")
    obj: object = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


class Registry(Generic[T]):
    """Names -> objects of one sort (``what``: "grader", "converter", ...), each given as the object or as
    a lazy ``"module:object"`` string imported on first :meth:`get`."""

    def __init__(self, what: str, entries: Mapping[str, str | T] | None = None) -> None:
        self.what = what
        self._targets: dict[str, str | T] = {}
        self._loaded: dict[str, T] = {}
        for name, target in (entries or {}).items():
            self.add(name, target)

    def add(self, name: str, target: str | T) -> None:
        """Add an entry; a name that is already taken raises :class:`DuplicateName`."""
        if name in self._targets:
            raise DuplicateName(f"{self.what} '{name}' is already registered (as {self._targets[name]!r})")
        self._targets[name] = target

    def get(self, name: str) -> T:
        """The object registered as ``name`` (imported on first use); :class:`UnknownName` otherwise."""
        if name in self._loaded:
            return self._loaded[name]
        if name not in self._targets:
            raise UnknownName(f"unknown {self.what} '{name}'", hint=self.suggest(name))
        target = self._targets[name]
        obj = cast(T, load_target(target) if isinstance(target, str) else target)
        self._loaded[name] = obj
        return obj

    def target(self, name: str) -> str | T:
        """The entry as written in the table (the ``"module:object"`` string for lazy entries)."""
        return self._targets[name]

    def suggest(self, name: str) -> str:
        close = difflib.get_close_matches(name, list(self._targets), n=1)
        known = ", ".join(sorted(self._targets)) or "none"
        return f"did you mean '{close[0]}'? (known: {known})" if close else f"known: {known}"

    def names(self) -> list[str]:
        return list(self._targets)

    def __contains__(self, name: object) -> bool:
        return name in self._targets

    def __iter__(self) -> Iterator[str]:
        return iter(self._targets)

    def __len__(self) -> int:
        return len(self._targets)
