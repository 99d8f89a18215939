"""Preference sides stored as whole conversations: transcripts and chat message lists.

Many preference files keep each side as the full conversation that ends with the response being
judged, instead of one shared prompt plus two responses:

* a **transcript**: one string with role markers, e.g. Anthropic HH
  ``"\\n\\nHuman: hi\\n\\nAssistant: hello\\n\\nHuman: and?\\n\\nAssistant: <response>"``;
* a **message list**: OpenAI-style ``[{"role": "user", "content": ...}, ..., {"role": "assistant", ...}]``.

:func:`split_sides` turns the two conversations into the fields of a
:class:`~rmbench.datatypes.PairwiseExample`: the longest common prefix of turns (role and content
equal) becomes the shared ``prompt``; each side's last turn, which must be an assistant turn, is its
response; turns between the two (where the sides' histories differ) are kept per side as
``chosen_context`` / ``rejected_context``.

Transcript formats (``options.format`` of the generic field mapping):

* ``hh``: markers ``"\\n\\nHuman:"`` (user) and ``"\\n\\nAssistant:"`` (assistant);
* ``transcript``: markers given by ``options.markers``, a mapping role -> marker, e.g.
  ``{user: "<|user|>", assistant: "<|assistant|>", system: "<|system|>"}``.

A marker at the very start of the text may lack its leading whitespace (``"Human: hi..."``). Text
before the first marker is an error; each turn's content is stripped of surrounding whitespace.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Messages = tuple[dict[str, str], ...]

TRANSCRIPT_FORMATS: dict[str, dict[str, str]] = {"hh": {"user": "\n\nHuman:", "assistant": "\n\nAssistant:"}}
"""Named transcript formats: role -> marker."""

FORMATS = ("text", "messages", "hh", "transcript")
"""Values of ``options.format``: ``text`` (plain responses and a prompt column, the default)."""

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Sides:
    """Two conversations split into a shared prompt, per-side context and responses."""

    prompt: Messages
    chosen_context: Messages
    chosen: str
    rejected_context: Messages
    rejected: str


def markers_for(fmt: str, markers: Any) -> dict[str, str]:
    """The role -> marker mapping of a transcript format; ``ValueError`` with the reason otherwise."""
    if fmt in TRANSCRIPT_FORMATS:
        if markers is not None:
            raise ValueError(f"options.markers applies to format 'transcript', not the named format '{fmt}'")
        return dict(TRANSCRIPT_FORMATS[fmt])
    if not isinstance(markers, Mapping) or not markers:
        raise ValueError("format 'transcript' needs options.markers, e.g. {user: 'User:', assistant: 'Assistant:'}")
    out = {}
    for role, marker in markers.items():
        if role not in ROLES:
            raise ValueError(f"options.markers: unknown role '{role}' (use {', '.join(ROLES)})")
        if not isinstance(marker, str) or not marker.strip():
            raise ValueError(f"options.markers.{role} must be a non-empty string")
        out[str(role)] = marker
    if "assistant" not in out or len(out) < 2:
        raise ValueError("options.markers needs an 'assistant' marker and at least one other role")
    return out


def parse_transcript(text: str, markers: Mapping[str, str]) -> Messages:
    """Split a transcript into turns at its role markers (see the module docstring).

    >>> parse_transcript("\\n\\nHuman: hi\\n\\nAssistant: hello", TRANSCRIPT_FORMATS["hh"])
    ({'role': 'user', 'content': 'hi'}, {'role': 'assistant', 'content': 'hello'})
    >>> parse_transcript("Human: hi\\n\\nAssistant:", TRANSCRIPT_FORMATS["hh"])[-1]
    {'role': 'assistant', 'content': ''}
    """
    by_marker = {m: role for role, m in markers.items()}
    pattern = re.compile("|".join(re.escape(m) for m in sorted(by_marker, key=len, reverse=True)))
    for marker in by_marker:  # a first marker without its leading whitespace
        bare = marker.lstrip()
        if bare != marker and text.startswith(bare):
            text = marker + text[len(bare):]
            break
    found = list(pattern.finditer(text))
    if not found:
        raise ValueError(f"no role marker ({', '.join(repr(m) for m in by_marker)}) in {text[:60]!r}")
    if text[: found[0].start()].strip():
        raise ValueError(f"text before the first role marker: {text[: found[0].start()][:60]!r}")
    turns = []
    for k, match in enumerate(found):
        end = found[k + 1].start() if k + 1 < len(found) else len(text)
        turns.append({"role": by_marker[match.group()], "content": text[match.end() : end].strip()})
    return tuple(turns)


def check_messages(value: Any) -> Messages:
    """A list of ``{"role": str, "content": str}`` mappings; ``ValueError`` naming the bad message."""
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"expected a non-empty list of chat messages, got {type(value).__name__}")
    out = []
    for i, msg in enumerate(value):
        if not (isinstance(msg, Mapping) and isinstance(msg.get("role"), str) and isinstance(msg.get("content"), str)):
            raise ValueError(f"message {i} is not a {{'role': str, 'content': str}} mapping: {msg!r:.80}")
        out.append({"role": msg["role"], "content": msg["content"]})
    return tuple(out)


def _common_prefix(a: Sequence[dict[str, str]], b: Sequence[dict[str, str]]) -> int:
    n = 0
    while n < len(a) and n < len(b) and a[n] == b[n]:
        n += 1
    return n


def with_prompt(prompt: Messages, turns: Messages) -> Messages:
    """``turns`` preceded by ``prompt`` unless they already begin with it (files that repeat the prompt)."""
    if prompt and tuple(turns[: len(prompt)]) != tuple(prompt):
        return (*prompt, *turns)
    return turns


def split_sides(chosen: Messages, rejected: Messages) -> Sides:
    """Shared prompt (longest common prefix of the histories), per-side context and responses.

    Each side must end with an assistant turn (its response).

    >>> u, a = {"role": "user", "content": "q"}, {"role": "assistant", "content": "x"}
    >>> s = split_sides((u, a), (u, {"role": "assistant", "content": "y"}))
    >>> s.prompt == (u,), s.chosen, s.rejected, s.chosen_context, s.rejected_context
    (True, 'x', 'y', (), ())
    """
    for name, turns in (("chosen", chosen), ("rejected", rejected)):
        if not turns or turns[-1]["role"] != "assistant":
            last = turns[-1]["role"] if turns else "nothing"
            raise ValueError(f"the {name} conversation must end with an assistant turn (its response), not {last}")
    history_c, history_r = chosen[:-1], rejected[:-1]
    n = _common_prefix(history_c, history_r)
    return Sides(
        prompt=tuple(history_c[:n]),
        chosen_context=tuple(history_c[n:]),
        chosen=chosen[-1]["content"],
        rejected_context=tuple(history_r[n:]),
        rejected=rejected[-1]["content"],
    )
