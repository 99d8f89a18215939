"""Bounds on text size, so one huge record costs memory in proportion to the model's context, not to the record.

Two rules:

* **Absurd records are refused** when read: a text field longer than :data:`MAX_FIELD_CHARS`
  (10 million characters) raises a :class:`~rmbench.errors.RecordError` naming file, line and field.
  (A 50 MB response used to abort the process inside the tokenizer.)
* **Long texts are cut by characters before tokenizing** (:func:`encode_within`): only the tokens a
  model keeps after truncation to ``max_length`` (on the truncation side) can change a score, and
  they come from at most ``max_length x L`` characters on that side, where ``L`` is the longest
  token string in the vocabulary (:func:`chars_per_token`; 81 for SmolLM2). rmbench keeps that many
  characters plus :data:`MARGIN_CHARS`, tokenizes them, and checks that at least ``max_length +
  EDGE_TOKENS`` tokens came out; otherwise (a normaliser that expands text) it tokenizes the whole
  text as before. The cut only moves tokens that truncation drops anyway, so scores are unchanged.
  (A 5 MB response used to take 1.4 GB in the tokenizer.) Token counts of truncation (``truncated_tokens``)
  then count from the cut text: the item is still marked truncated, the count is a lower bound.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from rmbench.errors import RecordError

MAX_FIELD_CHARS = 10_000_000
MARGIN_CHARS = 4096
EDGE_TOKENS = 64
"""Tokens next to a character cut that may tokenize differently from the uncut text; never kept."""

_LONGEST: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()


def check_record_size(data: Mapping[str, Any], file: str, line: int, limit: int = MAX_FIELD_CHARS) -> None:
    """Raise :class:`RecordError` when any string in the record (nested lists and objects included)
    is longer than ``limit`` characters; the field is named as a path, e.g. ``messages[2].content``."""
    stack: list[tuple[str, Any]] = [(str(k), v) for k, v in data.items()]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if len(value) > limit:
                raise RecordError(
                    file, line, f"{len(value):,} characters, more than the {limit:,} rmbench accepts in one field",
                    field=path, hint="no model reads that much text; shorten or drop this record",
                )
        elif isinstance(value, Mapping):
            stack.extend((f"{path}.{k}", v) for k, v in value.items())
        elif isinstance(value, (list, tuple)):
            stack.extend((f"{path}[{i}]", v) for i, v in enumerate(value))


def chars_per_token(tokenizer: Any) -> int:
    """The longest token string in the vocabulary (at least 1): no token covers more characters.

    Byte-level tokens spell a character with one or more symbols, SentencePiece's ``▁`` stands for
    one space and byte-fallback tokens (``<0x0A>``) for one byte, so the token string is never
    shorter than the text it covers. Computed once per tokenizer.
    """
    try:
        return _LONGEST[tokenizer]
    except (KeyError, TypeError):
        pass
    longest = max((len(t) for t in tokenizer.get_vocab()), default=1)
    with contextlib.suppress(TypeError):  # not weak-referenceable: recomputed next time
        _LONGEST[tokenizer] = longest
    return max(longest, 1)


@dataclass(frozen=True)
class TextLimit:
    """A model's ``max_length`` (tokens) and the side truncation cuts (``left`` keeps the end)."""

    max_length: int
    side: Literal["left", "right"] = "left"

    def char_budget(self, tokenizer: Any) -> int:
        return (self.max_length + EDGE_TOKENS) * chars_per_token(tokenizer) + MARGIN_CHARS

    def clip(self, text: str, tokenizer: Any) -> tuple[str, bool]:
        """(``text`` cut to :meth:`char_budget` characters on the truncation side, whether it was cut)."""
        budget = self.char_budget(tokenizer)
        if len(text) <= budget:
            return text, False
        return (text[-budget:] if self.side == "left" else text[:budget]), True


def encode_within(
    text: str, limit: TextLimit | None, tokenizer: Any, encode: Callable[[str], list[int]]
) -> tuple[list[int], bool]:
    """(token ids, whether the text was cut by characters) with ``encode`` applied to at most
    :meth:`TextLimit.char_budget` characters; see the module docs for why the kept tokens are unchanged."""
    if limit is None:
        return encode(text), False
    clipped, cut = limit.clip(text, tokenizer)
    if not cut:
        return encode(text), False
    ids = encode(clipped)
    if len(ids) < limit.max_length + EDGE_TOKENS:  # fewer tokens than the bound promised: be exact
        return encode(text), False
    return ids, True


def text_limit_of(backend: Any) -> TextLimit | None:
    """The :class:`TextLimit` of a backend with ``max_length`` and ``config.truncation_side`` (None otherwise)."""
    max_length = getattr(backend, "max_length", None)
    side = getattr(getattr(backend, "config", None), "truncation_side", "left")
    if not isinstance(max_length, int) or side not in ("left", "right"):
        return None
    return TextLimit(max_length, side)
