"""Greedy judge generation that computes a shared prompt prefix once (issue 17 item 7).

FELM asks one question per segment, and the prompts of one answer share the instructions, the
question and the earlier segments: computed separately, the same prefix is prefilled again for every
segment. Here the prompt text is unchanged; only the computation is shared:

1. **prefill, prefix by prefix**: prompts are sorted by their token ids, so a prompt's longest common
   token prefix with any earlier prompt is its common prefix with the one just before it. Each prompt
   runs only the tokens after that prefix, on a copy of the previous prompt's KV cache cut to it
   (positions continue at the prefix length). Its own KV and its last-position logits are kept.
2. **decode in batches**: up to ``max_batch_size`` prefilled prompts (and at most ``token_budget``
   cached tokens) decode together; each row's KV is left-padded (padding masked out, positions per
   row), and a row leaves the batch as soon as it stops, so finished rows cost nothing.

Greedy decoding reads the argmax of the raw logits (float32) at each step, as ``model.generate`` with
a fresh ``GenerationConfig`` does; the first step's logits give ``choice_logprobs``. A row stops at
EOS, at a stop string in its decoded text, or after ``max_new_tokens``. The outputs equal
:func:`rmbench.backends.transformers.generate.generate`'s token for token in float32 (up to argmax
ties at rounding level; ``tests/test_prefix_reuse.py``). One difference: ``completion_tokens`` of a
row cut by a stop string is its own count here, where batched ``model.generate`` may count the padding
it appended while other rows went on.

Used for greedy requests on decoders whose cache can be cut and reused exactly
(:func:`rmbench.backends.transformers.forward.caches_like_a_decoder`) when the group shares enough
(:func:`sharing_pays`); sampled requests and other models take the batched ``model.generate`` path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MIN_SAVED_SHARE = 0.25
"""Sharing is used when it skips at least this share of a group's prompt tokens."""


@dataclass
class Prefilled:
    """One prompt after its prefill: its KV per layer ((1, heads, n, dim) keys and values) and the
    float32 logits at its last position."""

    ids: list[int]
    kv: list[tuple[Any, Any]]
    logits: Any


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two token lists.

    >>> common_prefix([1, 2, 3], [1, 2, 4, 5])
    2
    """
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def shared_tokens(prompts: Sequence[Sequence[int]]) -> int:
    """Prompt tokens the sorted-order reuse skips (each prompt's common prefix with the one before it,
    leaving at least one token to run)."""
    ordered = sorted(prompts)
    return sum(min(common_prefix(a, b), len(b) - 1) for a, b in zip(ordered, ordered[1:], strict=False))


def sharing_pays(prompts: Sequence[Sequence[int]]) -> bool:
    """Whether reuse skips at least :data:`MIN_SAVED_SHARE` of the prompts' tokens."""
    total = sum(len(p) for p in prompts)
    return len(prompts) > 1 and total > 0 and shared_tokens(prompts) >= MIN_SAVED_SHARE * total


def _cache(model: Any, kv: Sequence[tuple[Any, Any]]) -> Any:
    """A ``DynamicCache`` holding ``kv`` (one (keys, values) pair per layer; empty: an empty cache)."""
    from transformers import DynamicCache

    cache = DynamicCache(config=model.config)
    for layer, (k, v) in enumerate(kv):
        cache.update(k, v, layer)
    return cache


def _forward(model: Any, cache: Any, **kwargs: Any) -> tuple[Any, list[tuple[Any, Any]]]:
    """One forward pass on ``cache``: (float32 logits of the last position, the cache's layers)."""
    from rmbench.backends.transformers.forward import cache_argument, returned_cache

    out = model(use_cache=True, logits_to_keep=1, **{cache_argument(model): cache}, **kwargs)
    layers = returned_cache(out).layers
    return out.logits[:, -1, :].float(), [(layer.keys, layer.values) for layer in layers]


def prefill(model: Any, prompts: Sequence[list[int]], device: Any) -> tuple[list[Prefilled], int]:
    """Prefill ``prompts`` (already sorted by token ids) reusing each one's prefix with the one before;
    also returns the number of prompt tokens that were run."""
    import torch

    out: list[Prefilled] = []
    ran = 0
    for ids in prompts:
        prev = out[-1] if out else None
        keep = min(common_prefix(prev.ids, ids), len(ids) - 1) if prev is not None else 0
        kv = [(k[:, :, :keep], v[:, :, :keep]) for k, v in prev.kv] if prev is not None and keep else []
        x = torch.tensor([ids[keep:]], dtype=torch.long, device=device)
        logits, layers = _forward(model, _cache(model, kv), input_ids=x)
        out.append(Prefilled(ids, layers, logits[0]))
        ran += len(ids) - keep
    return out, ran


def _batch_cache(model: Any, rows: Sequence[Prefilled]) -> tuple[Any, Any]:
    """The rows' KV left-padded to one width, as a cache, and the (rows, width) attention mask."""
    import torch

    width = max(len(r.ids) for r in rows)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    layers = []
    for layer in range(len(rows[0].kv)):
        k0, v0 = rows[0].kv[layer]
        keys = k0.new_zeros((len(rows), k0.shape[1], width, k0.shape[3]))
        values = v0.new_zeros((len(rows), v0.shape[1], width, v0.shape[3]))
        for i, r in enumerate(rows):
            n = len(r.ids)
            keys[i, :, width - n :] = r.kv[layer][0][0]
            values[i, :, width - n :] = r.kv[layer][1][0]
        layers.append((keys, values))
    for i, r in enumerate(rows):
        mask[i, width - len(r.ids) :] = 1
    return _cache(model, layers), mask.to(rows[0].logits.device)


@dataclass(frozen=True)
class StopRule:
    """When a greedy row stops: EOS ids, stop strings, the token limit."""

    eos_ids: frozenset[int]
    stop: tuple[str, ...]
    max_new_tokens: int

    def done(self, tokenizer: Any, tokens: list[int]) -> bool:
        if tokens[-1] in self.eos_ids or len(tokens) >= self.max_new_tokens:
            return True
        return bool(self.stop) and any(s in tokenizer.decode(tokens, skip_special_tokens=True) for s in self.stop)


def decode(model: Any, tokenizer: Any, rows: Sequence[Prefilled], rule: StopRule) -> list[list[int]]:
    """Greedy tokens for each prefilled row, decoded together; finished rows leave the batch."""
    import torch

    tokens = [[int(r.logits.argmax())] for r in rows]
    active = [i for i in range(len(rows)) if not rule.done(tokenizer, tokens[i])]
    if not active:
        return tokens
    cache, mask = _batch_cache(model, [rows[i] for i in active])
    lengths = torch.tensor([len(rows[i].ids) for i in active], device=mask.device)
    while active:
        x = torch.tensor([[tokens[i][-1]] for i in active], dtype=torch.long, device=mask.device)
        mask = torch.cat([mask, mask.new_ones((len(active), 1))], dim=1)
        positions = (lengths + len(tokens[active[0]]) - 1)[:, None]
        logits, _ = _forward(model, cache, input_ids=x, attention_mask=mask, position_ids=positions)
        for row, i in enumerate(active):
            tokens[i].append(int(logits[row].argmax()))
        keep = [row for row, i in enumerate(active) if not rule.done(tokenizer, tokens[i])]
        if len(keep) < len(active):
            index = torch.tensor(keep, dtype=torch.long, device=mask.device)
            cache.batch_select_indices(index)
            mask, lengths = mask[index], lengths[index]
            active = [active[row] for row in keep]
    return tokens


def generate_shared(model: Any, tokenizer: Any, prompts: Sequence[list[int]], device: Any, rule: StopRule,
                    max_rows: int, token_budget: int) -> tuple[list[tuple[list[int], Any]], int]:
    """Greedy generation for prompts sharing ``rule``, in order: (generated ids, float32 logits at the
    first generated position) per prompt; also the number of prompt tokens run (the rest were reused)."""
    import torch

    with torch.inference_mode():  # also when called outside the backend (which already is in it)
        return _generate_shared(model, tokenizer, prompts, device, rule, max_rows, token_budget)


def _generate_shared(model: Any, tokenizer: Any, prompts: Sequence[list[int]], device: Any, rule: StopRule,
                     max_rows: int, token_budget: int) -> tuple[list[tuple[list[int], Any]], int]:
    order = sorted(range(len(prompts)), key=lambda i: prompts[i])
    out: list[tuple[list[int], Any] | None] = [None] * len(prompts)
    ran = 0
    for block in blocks([len(prompts[i]) + rule.max_new_tokens for i in order], token_budget, max_rows):
        idx = [order[b] for b in block]
        done, n = prefill(model, [prompts[i] for i in idx], device)
        ran += n
        for i, p, toks in zip(idx, done, decode(model, tokenizer, done, rule), strict=True):
            out[i] = (toks, p.logits)
    return [row for row in out if row is not None], ran


def blocks(lengths: Sequence[int], token_budget: int, max_rows: int) -> list[list[int]]:
    """Consecutive positions packed so that rows x the longest row stays within ``token_budget`` (a row
    over it alone) and at most ``max_rows`` rows; consecutive, since the sorted order keeps prefixes together.

    >>> blocks([3, 4, 10, 2], token_budget=12, max_rows=8)
    [[0, 1], [2], [3]]
    """
    out: list[list[int]] = []
    widest = 0
    for i, n in enumerate(lengths):
        if out and len(out[-1]) < max_rows and (len(out[-1]) + 1) * max(widest, n) <= token_budget:
            out[-1].append(i)
            widest = max(widest, n)
        else:
            out.append([i])
            widest = n
    return out
