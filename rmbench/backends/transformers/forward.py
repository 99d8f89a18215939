"""The tensor side of :mod:`rmbench.backends.transformers.backend`: padding, pooling, KV-cache
continuation and log-prob gathering for one planned batch. Part of the transformers backend
(imported only by it); batch planning lives in :mod:`rmbench.backends.batching`.

Conventions: batches are right-padded with an explicit attention mask; a row's last real token is
``mask.sum(1) - 1``. A causal decoder's real tokens never attend to the padding on their right, so its
plain and prefix passes run without the mask (sdpa's causal kernel, ~6% faster on CPU, the same numbers
at every real position; measured equal to the last bit in fp32). Log-probabilities are natural logs computed in float32 whatever the model dtype.
In the shared-prefix path a group's prefix (length ``p``) runs once with ``use_cache=True``, its
cache rows are repeated for every member, and each member's suffix continues at positions ``p..``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import torch

from rmbench.errors import UserError


@dataclass
class Request:
    """One token sequence after truncation. ``start`` is the first token whose log-prob is wanted
    (0 for scoring); ``truncated`` how many tokens were cut."""

    ids: list[int]
    start: int = 0
    truncated: int = 0


@dataclass
class Group:
    """Requests (``members`` are their indices in the caller's group ``index``) sharing ``prefix`` tokens."""

    index: int
    members: list[int]
    requests: list[Request]
    prefix: int


def is_oom(exc: BaseException) -> bool:
    """True for CUDA/accelerator OOM and for CPU allocation failures (RuntimeError or MemoryError)."""
    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def pad_right(seqs: list[list[int]], pad_id: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask), both ``[len(seqs), longest]`` int64, padded on the right."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, : len(s)] = 1
    return ids.to(device), mask.to(device)


def caches_like_a_decoder(model: Any, max_length: int) -> bool:
    """Whether a prefix's dynamic KV cache can be reused exactly: a decoder with full attention in every
    layer (no linear-attention or sliding-window layers that a window shorter than ``max_length`` would cut)."""
    cfg = model.config.get_text_config()
    if getattr(cfg, "is_encoder_decoder", False):
        return False
    supports = getattr(type(model), "_supports_default_dynamic_cache", None)
    if callable(supports) and not supports():
        return False
    layer_types = getattr(cfg, "layer_types", None)
    if layer_types and any(t != "full_attention" for t in layer_types):
        return False
    window = getattr(cfg, "sliding_window", None)
    return not (window and getattr(cfg, "use_sliding_window", True) and window < max_length)


def cache_argument(forward: Any) -> str:
    """The name under which ``forward`` (a model or its ``forward``) takes a KV cache: ``cache`` in
    transformers 5 (where ``past_key_values`` is deprecated, to be removed in 5.40), ``past_key_values``
    in releases before it."""
    target = getattr(forward, "forward", forward)
    try:
        params = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return "past_key_values"
    return "cache" if "cache" in params else "past_key_values"


def returned_cache(output: Any) -> Any:
    """The KV cache a forward pass with ``use_cache=True`` returned (``output.cache`` in transformers 5,
    ``output.past_key_values`` before), read without touching the deprecated name when the new one exists."""
    fields = output.keys() if hasattr(output, "keys") else ()
    if "cache" in fields:
        return output["cache"]
    return output.past_key_values


def _shared_pass(
    forward: Any,
    groups: list[Group],
    pad_id: int,
    device: torch.device,
    stats: Any,
    prefix_kwargs: dict[str, Any],
    suffix_kwargs: dict[str, Any],
) -> tuple[Any, Any, torch.Tensor, list[int]]:
    """Run every group's prefix once, then every member's suffix on the repeated cache.

    Returns (prefix output, suffix output, suffix attention mask, group row of each suffix row).
    """
    prefixes = [g.requests[0].ids[: g.prefix] for g in groups]
    p_ids, p_mask = pad_right(prefixes, pad_id, device)
    first = forward(input_ids=p_ids, use_cache=True, **prefix_kwargs)  # right padding: causal rows need no mask
    rows = [gi for gi, g in enumerate(groups) for _ in g.requests]
    row_index = torch.tensor(rows, device=device)
    cache = returned_cache(first)
    cache.batch_select_indices(row_index)
    suffixes = [r.ids[g.prefix :] for g in groups for r in g.requests]
    s_ids, s_mask = pad_right(suffixes, pad_id, device)
    offsets = torch.tensor([groups[gi].prefix for gi in rows], device=device)
    positions = offsets[:, None] + torch.arange(s_ids.shape[1], device=device)[None, :]
    second = forward(
        input_ids=s_ids,
        attention_mask=torch.cat([p_mask[row_index], s_mask], dim=1),
        position_ids=positions,
        use_cache=True,
        **{cache_argument(forward): cache},
        **suffix_kwargs,
    )
    stats.sequences += len(rows)
    stats.forward_calls += 2
    stats.tokens += sum(len(p) for p in prefixes) + sum(len(s) for s in suffixes)
    stats.padded_tokens += p_ids.numel() + s_ids.numel()
    return first, second, s_mask, rows


class ClassifierForward:
    """Scores from a sequence classifier: the logit of one label at the pooled position."""

    def __init__(self, model: Any, label_index: int, tokenizer: Any) -> None:
        self.model = model
        self.notes: dict[str, Any] = {}
        cfg = model.config
        if getattr(cfg, "pad_token_id", None) is None:
            pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
            cfg.pad_token_id = pad if pad is not None else 0
            self.notes["pad_token_id"] = (
                f"set to {cfg.pad_token_id} from the tokenizer (the model config had none)"
            )
        self.pad_id = int(cfg.pad_token_id)
        n = int(cfg.num_labels)
        if not -n <= label_index < n:
            raise UserError(f"label index {label_index} out of range for a classifier with {n} labels")
        self.label = 0 if n == 1 else label_index % n
        self.notes.update(num_labels=n, label_index=self.label)
        head = getattr(model, "score", None)
        self.base: Any = getattr(model, getattr(model, "base_model_prefix", ""), None)
        self.last_token = isinstance(head, torch.nn.Linear) and self.base is not None
        self.head: Any = head
        self.notes["pooling"] = "last real token (from the attention mask)" if self.last_token else "model"
        self.causal = self.last_token and caches_like_a_decoder(model, 0)  # right padding needs no mask
        self.max_tokens_per_batch = 1 << 62

    def supports_prefix_cache(self, max_length: int) -> bool:
        return self.last_token and caches_like_a_decoder(self.model, max_length)

    def _label_scores(self, hidden: torch.Tensor, last: torch.Tensor) -> list[float]:
        pooled = hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
        return self.head(pooled)[:, self.label].float().tolist()

    def plain(self, reqs: list[Request], stats: Any) -> list[float]:
        ids, mask = pad_right([r.ids for r in reqs], self.pad_id, self.model.device)
        stats.sequences += len(reqs)
        stats.forward_calls += 1
        stats.tokens += int(mask.sum())
        stats.padded_tokens += ids.numel()
        if not self.last_token:
            return self.model(input_ids=ids, attention_mask=mask).logits[:, self.label].float().tolist()
        hidden = self.base(input_ids=ids, attention_mask=None if self.causal else mask, use_cache=False).last_hidden_state
        return self._label_scores(hidden, mask.sum(dim=1) - 1)

    def shared(self, groups: list[Group], stats: Any) -> list[list[float]]:
        _, second, s_mask, rows = _shared_pass(
            self.base, groups, self.pad_id, self.model.device, stats, {}, {}
        )
        flat = self._label_scores(second.last_hidden_state, s_mask.sum(dim=1) - 1)
        out: list[list[float]] = [[] for _ in groups]
        for gi, score in zip(rows, flat, strict=True):
            out[gi].append(score)
        return out


def _gather_logprobs(logits: torch.Tensor, targets: list[int]) -> list[float]:
    """log softmax (float32) of ``logits [n, vocab]`` at ``targets`` (n token ids)."""
    if not targets:
        return []
    logp = torch.log_softmax(logits.float(), dim=-1)
    index = torch.tensor(targets, device=logits.device)[:, None]
    return logp.gather(1, index)[:, 0].tolist()


class CausalForward:
    """Token log-probabilities from a causal LM; logits are kept only at the positions needed."""

    def __init__(self, model: Any, logits_bytes: int) -> None:
        self.model = model
        vocab = int(model.config.get_text_config().vocab_size)
        self.max_tokens_per_batch = max(logits_bytes // (4 * vocab), 1)
        self.notes: dict[str, Any] = {"logits_token_cap": self.max_tokens_per_batch}
        pad = model.config.get_text_config().pad_token_id
        self.pad_id = int(pad) if pad is not None else 0

    def supports_prefix_cache(self, max_length: int) -> bool:
        return caches_like_a_decoder(self.model, max_length)

    def plain(self, reqs: list[Request], stats: Any) -> list[list[float]]:
        ids, mask = pad_right([r.ids for r in reqs], self.pad_id, self.model.device)
        lo = min(r.start for r in reqs) - 1
        hi = max(len(r.ids) for r in reqs) - 1
        keep = torch.arange(lo, hi, device=ids.device)
        logits = self.model(input_ids=ids, attention_mask=mask, use_cache=False, logits_to_keep=keep).logits
        stats.sequences += len(reqs)
        stats.forward_calls += 1
        stats.tokens += int(mask.sum())
        stats.padded_tokens += ids.numel()
        # logits[:, q - lo] predicts token q + 1
        return [
            _gather_logprobs(logits[i, r.start - 1 - lo : len(r.ids) - 1 - lo], r.ids[r.start :])
            for i, r in enumerate(reqs)
        ]

    def shared(self, groups: list[Group], stats: Any) -> list[list[list[float]]]:
        p_max = max(g.prefix for g in groups)
        lo = min(max(min(r.start for g in groups for r in g.requests) - 1, 0), p_max - 1)
        s_max = max(len(r.ids) - g.prefix for g in groups for r in g.requests)
        device = self.model.device
        first, second, _, _ = _shared_pass(
            self.model,
            groups,
            self.pad_id,
            device,
            stats,
            {"logits_to_keep": torch.arange(lo, p_max, device=device)},
            {"logits_to_keep": torch.arange(0, max(s_max - 1, 1), device=device)},
        )
        out: list[list[list[float]]] = []
        row = 0
        for gi, g in enumerate(groups):
            p, res = g.prefix, []
            for r in g.requests:
                s, n = r.start, len(r.ids)
                head: list[float] = []
                if s <= p:  # prefix positions s-1 .. p-1 predict tokens s .. p
                    head = _gather_logprobs(first.logits[gi, s - 1 - lo : p - lo], r.ids[s : p + 1])
                begin = max(s, p + 1)  # suffix index j (position p + j) predicts token p + j + 1
                tail = _gather_logprobs(second.logits[row, begin - 1 - p : n - 1 - p], r.ids[begin:n])
                res.append(head + tail)
                row += 1
            out.append(res)
        return out
