"""Name the settings in which two run identities differ, for the resume refusal's message."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def settings_diff(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The differing settings, as ``key: old -> new``, nested keys joined by dots.

    >>> settings_diff({"config": {"max_length": 4096, "seed": 0}}, {"config": {"max_length": 2048, "seed": 0}})
    ['config.max_length: 4096 -> 2048']
    """
    out = []
    for k in sorted(set(old) | set(new), key=str):
        a, b = old.get(k), new.get(k)
        if a == b:
            continue
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out += settings_diff(a, b, f"{prefix}{k}.")
        else:
            out.append(f"{prefix}{k}: {_short(a)} -> {_short(b)}")
    return out


def _short(value: Any) -> str:
    text = "(none)" if value is None else json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:28] + "…" + text[-28:]
