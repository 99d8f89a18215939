"""The runner's side of the score cache: which pending examples are cached, and an adapter that scores
only the others.

:meth:`RunCache.open` computes the keys of the pending examples and asks the store which it holds.
:meth:`RunCache.adapter` then returns a :class:`CachedAdapter`: when every pending example is cached and
the model's description is stored, the model is never built (the run writes its run.json from the
stored description); otherwise the model is built at once, as without a cache, and described afresh.

The cache never decides a result and never stops a run: any error of the cache file (locked past the
timeout, corrupt, unwritable, disk full) is reported once as a warning and the run goes on without it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sqlite3
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rmbench.cache.key import (
    cache_refusal,
    description_key,
    entry_key,
    example_key,
    file_sha256,
    settings_parts,
    sha256_json,
)
from rmbench.cache.limits import max_cache_bytes
from rmbench.cache.store import ScoreStore, default_folder
from rmbench.config import RunConfig
from rmbench.datatypes import Example, Prediction
from rmbench.errors import UserError

if TYPE_CHECKING:
    from rmbench.adapters import Adapter

_CACHE_ERRORS = (sqlite3.Error, OSError, ValueError, TypeError, LookupError, UserError)


class RunCache:
    """One run's view of the score cache; ``store`` is ``None`` when the run does not use it (``status`` says why)."""

    def __init__(self, cfg: RunConfig, store: ScoreStore | None, status: str, settings_key: str = "") -> None:
        self.cfg, self.store, self.status, self.settings_key = cfg, store, status, settings_key
        self.keys: dict[str, str] = {}  # example id -> entry key
        self.cached: set[str] = set()  # entry keys the cache held when the run started
        self.from_cache = 0  # items of this session whose prediction came from the cache
        self.commit: str | None = None  # a Hub model's commit in the key (checked against the loaded one)

    @classmethod
    def open(cls, cfg: RunConfig, pending: Sequence[Example]) -> RunCache:
        """The cache for ``cfg`` with ``pending``'s entries looked up; never raises."""
        reason = cache_refusal(cfg)
        folder = default_folder()
        if reason is None and folder is None:
            reason = "RMBENCH_SCORE_CACHE=off"
        if reason is not None or folder is None:
            return cls(cfg, None, f"off: {reason}")
        if not pending:
            return cls(cfg, None, "on (nothing to score)")
        try:
            store = ScoreStore(folder)
        except _CACHE_ERRORS as exc:
            return cls._failed(cfg, f"cannot open {folder}: {exc}")
        try:
            parts = settings_parts(cfg, lambda p: store.file_digest(p, file_sha256))
            cache = cls(cfg, store, "on", sha256_json(parts))
            cache.commit = parts["model"].get("commit")
            store.register(cache.settings_key, cfg.model, cfg.kind, parts)
            cache.keys = {e.id: entry_key(cache.settings_key, example_key(e)) for e in pending}
            cache.cached = store.existing(list(cache.keys.values()))
        except _CACHE_ERRORS as exc:
            store.close()
            return cls._failed(cfg, str(exc))
        return cache

    @classmethod
    def _failed(cls, cfg: RunConfig, why: str) -> RunCache:
        _warn(why)
        return cls(cfg, None, f"off: {why}")

    # ------------------------------------------------------------------------------- the runner
    def adapter(self, build: Callable[[], Adapter],
                describe: Callable[[Adapter], dict[str, Any]] | None = None) -> tuple[Adapter, dict[str, Any]]:
        """(the adapter to score with, the model's description for run.json); see the module docstring.
        ``describe(adapter)`` gives the description (default ``adapter.describe()``); it is stored with the
        scores, so a fully cached run records what a loaded model would have."""
        describe = describe or (lambda a: a.describe())
        if self.store is None:
            adapter = build()
            return adapter, describe(adapter)
        dkey = description_key(self.settings_key, self.cfg)
        if self.keys and all(k in self.cached for k in self.keys.values()):
            stored = self._guard(lambda: self.store.description(dkey) if self.store else None)
            if stored is not None:
                return CachedAdapter(self, build, None), stored
        inner = build()
        described = describe(inner)
        loaded = described.get("revision")
        if self.commit is not None and loaded is not None and loaded != self.commit:
            self._guard(lambda: _raise(f"the key names commit {self.commit} but {loaded} was loaded"))
            return inner, described
        self._guard(lambda: self.store.put_description(dkey, self.settings_key, described) if self.store else None)
        return CachedAdapter(self, build, inner), described

    def timing(self) -> dict[str, Any]:
        """The summary's timing fields: items read from the cache this session, and the cache's state."""
        return {"items_from_cache": self.from_cache, "score_cache": self.status}

    def manifest_block(self) -> dict[str, Any]:
        """run.json's ``score_cache`` (no part of the run's identity)."""
        location = str(self.store.path) if self.store is not None else None
        return {"status": self.status, "location": location, "settings_key": self.settings_key or None}

    def close(self) -> None:
        """Keep the cache within its bound (least recently used entries go first) and close the file."""
        if self.store is None:
            return
        self._guard(lambda: self.store.evict_to(max_cache_bytes()) if self.store else None)
        if self.store is not None:
            self.store.close()
            self.store = None

    # -------------------------------------------------------------------------------- entries
    def fetch(self, examples: Sequence[Example]) -> dict[str, Prediction]:
        """example id -> cached prediction, for the examples the cache holds now."""
        if self.store is None:
            return {}
        keys = {e.id: self.keys.get(e.id) or entry_key(self.settings_key, example_key(e)) for e in examples}
        values = self._guard(lambda: self.store.get(list(keys.values())) if self.store else {}) or {}
        out = {}
        for ex_id, key in keys.items():
            if key in values:
                pred = self._guard(lambda v=values[key]: decode(v))  # type: ignore[misc]
                if pred is not None:
                    out[ex_id] = pred
        return out

    def save(self, examples: Sequence[Example], preds: Sequence[Prediction]) -> None:
        """Store the fresh predictions (backend errors are never cached: a resume asks them again)."""
        if self.store is None:
            return
        entries = {
            self.keys.get(e.id) or entry_key(self.settings_key, example_key(e)): encode(p)
            for e, p in zip(examples, preds, strict=True)
            if p.error is None
        }
        if entries:
            self._guard(lambda: self.store.put(self.settings_key, entries) if self.store else None)

    def _guard(self, action: Callable[[], Any]) -> Any:
        """``action()``; on a cache error: one warning, the cache is off for the rest of the run, ``None``."""
        try:
            return action()
        except _CACHE_ERRORS as exc:
            _warn(str(exc))
            self.status = f"off: {exc}"
            if self.store is not None:
                with contextlib.suppress(sqlite3.Error):
                    self.store.close()
            self.store = None
            return None


class CachedAdapter:
    """An adapter reading cached predictions and scoring the rest with the real adapter, built on the
    first miss when it was not built yet (an entry evicted by another run since the lookup)."""

    def __init__(self, cache: RunCache, build: Callable[[], Adapter], inner: Adapter | None) -> None:
        self.cache, self._build, self._inner = cache, build, inner
        self.kind: str = cache.cfg.kind

    def describe(self) -> dict[str, Any]:
        return self._model().describe()

    def score(self, examples: Sequence[Example]) -> list[Prediction]:
        found = self.cache.fetch(examples)
        missing = [e for e in examples if e.id not in found]
        fresh: dict[str, Prediction] = {}
        if missing:
            preds = self._model().score(missing)
            if len(preds) != len(missing):
                raise RuntimeError(f"adapter returned {len(preds)} predictions for {len(missing)} examples")
            self.cache.save(missing, preds)
            fresh = {e.id: p for e, p in zip(missing, preds, strict=True)}
        self.cache.from_cache += len(examples) - len(missing)
        return [found[e.id] if e.id in found else fresh[e.id] for e in examples]

    def _model(self) -> Adapter:
        if self._inner is None:
            self._inner = self._build()
        return self._inner


def encode(pred: Prediction) -> str:
    """A prediction as stored (JSON; NaN kept as ``NaN``)."""
    return json.dumps(dataclasses.asdict(pred), ensure_ascii=False)


def decode(value: str) -> Prediction:
    """A stored prediction; a value that is not one raises ``ValueError`` or ``TypeError``."""
    data = json.loads(value)
    if not isinstance(data, Mapping) or not isinstance(data.get("scores"), Mapping):
        raise ValueError("a cached score is not a prediction")
    return Prediction(**data)


def _raise(why: str) -> None:
    raise LookupError(why)


def _warn(why: str) -> None:
    warnings.warn(f"rmbench score cache: {why}; the run continues without the cache", stacklevel=3)
