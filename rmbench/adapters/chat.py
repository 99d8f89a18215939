"""Render a conversation and a response into token ids the way the model was trained to read them.

Two renderings, both from the tokenizer's chat template
(``apply_chat_template(messages + [assistant turn], tokenize=False)``):

* :meth:`ChatRenderer.scoring_ids`: the whole rendering tokenized in one go, for scalar reward
  models (what ``apply_chat_template(..., tokenize=True)`` gives).
* :meth:`ChatRenderer.likelihood_span`: the prompt part and the response part tokenized separately
  and concatenated, plus the index where the response tokens start, for likelihood rewards. The
  prompt part is the rendering with ``add_generation_prompt=True``, checked to be a string prefix of
  the full rendering. The response part ends where the response text ends: the template's
  end-of-turn tokens are *not* scored. Tokenizing the parts separately keeps the boundary clean
  when a tokenizer would merge characters across it; such merges are counted.

Special tokens: a chat template writes its own BOS (or none), so rendered text is tokenized with
``add_special_tokens=False``; a sequence that still starts with two BOS tokens (a template that writes
BOS into text that also carries one) loses one, and that is counted.

Models without a chat template get a documented plain format, with the tokenizer's own special
tokens (e.g. BERT's ``[CLS] ... [SEP]``) around it, and a warning (once per renderer)::

    System: {system}\\nUser: {user}\\nAssistant: {assistant}\\n ... Assistant: {response}

``describe()`` then records ``chat_template: null``.

Given a :class:`~rmbench.data.text_limits.TextLimit` (the model's ``max_length`` and truncation side), a
text far longer than the model can read is cut by characters before tokenizing
(:func:`rmbench.data.text_limits.encode_within`), so memory follows the model's context, not the record;
the tokens kept after truncation are unchanged. Such cuts are counted as ``char_cut``.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rmbench.backends.model_source import sha256_hex
from rmbench.data.text_limits import TextLimit, encode_within
from rmbench.datatypes import Message

PLAIN_FORMAT = "System: ...\\nUser: ...\\nAssistant: ...\\n (no chat template)"


@dataclass(frozen=True)
class Span:
    """Token ids ending with a response; ``ids[start:]`` are the response's tokens (``start <= len(ids)``)."""

    ids: list[int]
    start: int


class ChatRenderer:
    """Chat rendering for one tokenizer; counts boundary and BOS anomalies as it goes (see :attr:`counts`)."""

    def __init__(self, tokenizer: Any, limit: TextLimit | None = None) -> None:
        self.tokenizer = tokenizer
        self.limit = limit
        template = getattr(tokenizer, "chat_template", None)
        self.template: str | None = template if isinstance(template, str) and template else None
        self.counts: Counter[str] = Counter()
        self._lead, self._trail = self._special_affixes()
        self._warned = False

    def describe(self) -> dict[str, Any]:
        """Template hash (``chat_template: null`` in the plain fallback), format and anomaly counts so far."""
        digest = sha256_hex(self.template)[:16] if self.template else None
        return {
            "chat_template": digest,
            "format": "chat template" if self.template else PLAIN_FORMAT,
            "special_tokens": "from the template" if self.template else "the tokenizer's own",
            "counts": dict(self.counts),
        }

    # ------------------------------------------------------------------------------ public
    def scoring_ids(self, prompt: Sequence[Message], response: str) -> list[int]:
        """The full conversation with ``response`` as the last assistant turn, tokenized in one go."""
        head, body, tail = self._split(prompt, response)
        self.counts["rendered"] += 1
        ids = self._encode_within(head + body + tail)
        if self.template is None:
            return self._lead + ids + self._trail
        return self._dedupe_bos(ids)

    def likelihood_span(self, prompt: Sequence[Message], response: str) -> Span:
        """Prompt part + response part, tokenized separately; ``start`` indexes the first response token.

        The end-of-turn tokens after the response are left out. An empty response gives ``start ==
        len(ids)`` (nothing to score).
        """
        head, body, _ = self._split(prompt, response)
        self.counts["rendered"] += 1
        head_ids = self._encode_within(head)
        body_ids = self._encode_within(body) if body else []
        if self._merges_at_boundary(head, body, head_ids, body_ids):
            self.counts["boundary_merges"] += 1
        head_ids = self._lead + head_ids if self.template is None else self._dedupe_bos(head_ids)
        return Span(ids=head_ids + body_ids, start=len(head_ids))

    # ---------------------------------------------------------------------------- internals
    def _encode(self, text: str) -> list[int]:
        # verbose=False: no "longer than the maximum sequence length" warning; truncation is counted here
        return list(self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def _encode_within(self, text: str) -> list[int]:
        ids, cut = encode_within(text, self.limit, self.tokenizer, self._encode)
        if cut:
            self.counts["char_cut"] += 1
        return ids

    def _merges_at_boundary(self, head: str, body: str, head_ids: list[int], body_ids: list[int]) -> bool:
        """Whether tokenizing prompt and response together would merge tokens across their boundary.
        For texts cut by characters, checked on the 1,000 characters either side of the boundary."""
        if self.limit is not None and len(head) + len(body) > self.limit.char_budget(self.tokenizer):
            head, body = head[-1000:], body[:1000]
            head_ids, body_ids = self._encode(head), self._encode(body) if body else []
        return head_ids + body_ids != self._encode(head + body)

    def _special_affixes(self) -> tuple[list[int], list[int]]:
        """The special tokens this tokenizer adds before and after a text (e.g. BOS; [CLS] and [SEP])."""
        plain = self._encode("a")
        full = list(self.tokenizer("a", add_special_tokens=True)["input_ids"])
        for k in range(len(full) - len(plain) + 1):
            if full[k : k + len(plain)] == plain:
                return full[:k], full[k + len(plain) :]
        return [], []

    def _dedupe_bos(self, ids: list[int]) -> list[int]:
        bos = getattr(self.tokenizer, "bos_token_id", None)
        if bos is not None and len(ids) >= 2 and ids[0] == bos and ids[1] == bos:
            self.counts["duplicated_bos"] += 1
            return ids[1:]
        return ids

    def _render(self, messages: list[dict[str, str]], generation_prompt: bool) -> str:
        if self.template is not None:
            return str(
                self.tokenizer.apply_chat_template(
                    messages, tokenize=False, add_generation_prompt=generation_prompt
                )
            )
        if not self._warned:
            warnings.warn(
                f"{type(self.tokenizer).__name__} has no chat template; using the plain format "
                "'User: ...\\nAssistant: ...' (recorded as chat_template: null)",
                stacklevel=4,
            )
            self._warned = True
        text = "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in messages)
        return text + "Assistant: " if generation_prompt else text

    def _split(self, prompt: Sequence[Message], response: str) -> tuple[str, str, str]:
        """(prompt part, response part, tail) whose concatenation is the full rendering."""
        messages = [{"role": m["role"], "content": m["content"]} for m in prompt]
        head = self._render(messages, generation_prompt=True)
        if self.template is None:
            return head, response, ""
        full = self._render([*messages, {"role": "assistant", "content": response}], generation_prompt=False)
        if full.startswith(head):
            cut = len(head)
        else:  # the template writes a finished turn differently from the generation prompt
            self.counts["generation_prompt_mismatch"] += 1
            cut = next((i for i, (a, b) in enumerate(zip(full, head, strict=False)) if a != b), min(len(full), len(head)))
        if not response:
            return full[:cut], "", full[cut:]
        for needle in (response, response.strip()):
            at = full.find(needle, cut) if needle else -1
            if at >= 0 and not full[cut:at].strip():
                end = at + len(needle)
                return full[:cut], full[cut:end], full[end:]
        self.counts["response_not_verbatim"] += 1  # e.g. a template that rewrites the content
        return full[:cut], full[cut:], ""
