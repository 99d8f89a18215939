"""Logits at chosen token positions, one forward pass per sequence: the tensor side of process rewards.

A process reward model scores every step of a solution from a *single* forward pass: the solution's
token sequence carries a separator after each step, and the step's reward is read from the logits
at the separator's position. This module does that reading for a batch of sequences:

* ``head="causal-lm"``: the hidden states at the wanted positions go through the output embedding
  only there, and only for the wanted vocabulary columns (``token_ids``, e.g. the ids of ``+`` and
  ``-``), so no ``positions x vocabulary`` matrix is built for the whole sequence;
* ``head="token-cls"``: a token-classification model's label logits at the wanted positions.

Sequences are packed by length under a token budget (:func:`rmbench.backends.batching.pack_by_budget`)
and right-padded with an attention mask, so positions need no shifting. A sequence longer than
``max_length`` is cut on ``truncation_side``; a position that falls in the cut part comes back as a
row of NaN (the caller decides what a lost step means). Outputs are float32 numpy arrays.

For a causal model the logits at position ``p`` depend only on tokens ``0..p``: scoring every step
from one pass equals scoring each step prefix on its own (tests check it). A bidirectional encoder
sees later steps too; for it the one-pass reading is the only definition.

The functions take the loaded model; :class:`rmbench.backends.transformers.backend.TransformersBackend`
exposes them as its ``position_logits`` method.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch

from rmbench.backends import Capability
from rmbench.backends.batching import pack_by_budget
from rmbench.backends.transformers.forward import pad_right

PositionHead = Literal["causal-lm", "token-cls"]


def fit_positions(
    seq: Sequence[int], positions: Sequence[int], max_length: int, side: Literal["left", "right"]
) -> tuple[list[int], list[int | None]]:
    """Cut ``seq`` to ``max_length`` tokens on ``side`` and move ``positions`` with it.

    Returns the kept tokens and, for every position, its index in the kept tokens or ``None`` when
    the position was cut away.

    >>> fit_positions([5, 6, 7, 8], [1, 3], 3, "right")
    ([5, 6, 7], [1, None])
    >>> fit_positions([5, 6, 7, 8], [0, 3], 3, "left")
    ([6, 7, 8], [None, 2])
    """
    if max_length < 1:
        raise ValueError(f"max_length must be >= 1, got {max_length}")
    for p in positions:
        if not 0 <= p < len(seq):
            raise ValueError(f"position {p} outside 0..{len(seq) - 1}")
    cut = max(0, len(seq) - max_length)
    if cut == 0:
        return list(seq), list(positions)
    if side == "right":
        return list(seq[:max_length]), [p if p < max_length else None for p in positions]
    return list(seq[cut:]), [p - cut if p >= cut else None for p in positions]


def _lm_logits_at(model: Any, hidden: torch.Tensor, token_ids: Sequence[int] | None) -> torch.Tensor:
    """Output-embedding logits for gathered hidden states ``[n, d]``; only ``token_ids`` columns if given."""
    head = model.get_output_embeddings()
    if head is None:
        raise ValueError(f"{type(model).__name__} has no output embedding (not a causal language model)")
    if token_ids is not None and isinstance(head, torch.nn.Linear):
        index = torch.tensor(list(token_ids), device=hidden.device)
        weight = head.weight.index_select(0, index)
        bias = head.bias.index_select(0, index) if head.bias is not None else None
        logits = torch.nn.functional.linear(hidden, weight, bias)
    else:
        logits = head(hidden)
        if token_ids is not None:
            logits = logits[:, list(token_ids)]
    cap = getattr(model.config.get_text_config(), "final_logit_softcapping", None)
    if cap:  # Gemma-2 style soft-capping: applied here as the model's own forward would
        logits = torch.tanh(logits / cap) * cap
    return logits


def _batch_logits(
    model: Any,
    head: PositionHead,
    seqs: list[list[int]],
    positions: list[list[int]],
    token_ids: Sequence[int] | None,
    pad_id: int,
) -> list[np.ndarray]:
    """One forward pass over one right-padded batch; logits ``[len(positions[i]), k]`` per row."""
    device = next(model.parameters()).device
    ids, mask = pad_right(seqs, pad_id, device)
    rows = torch.tensor([i for i, ps in enumerate(positions) for _ in ps], dtype=torch.long, device=device)
    cols = torch.tensor([p for ps in positions for p in ps], dtype=torch.long, device=device)
    if head == "causal-lm":
        hidden = model.base_model(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
        flat = _lm_logits_at(model, hidden[rows, cols], token_ids)
    else:
        logits = model(input_ids=ids, attention_mask=mask).logits
        flat = logits[rows, cols]
        if token_ids is not None:
            flat = flat[:, list(token_ids)]
    flat_np = flat.float().cpu().numpy()
    out, start = [], 0
    for ps in positions:
        out.append(flat_np[start : start + len(ps)])
        start += len(ps)
    return out


def position_logits(
    model: Any,
    seqs: Sequence[Sequence[int]],
    positions: Sequence[Sequence[int]],
    *,
    head: PositionHead = "causal-lm",
    token_ids: Sequence[int] | None = None,
    pad_id: int = 0,
    max_length: int = 4096,
    truncation_side: Literal["left", "right"] = "right",
    token_budget: int = 16384,
    max_batch_size: int = 64,
    stats: Any = None,
) -> list[np.ndarray]:
    """Logits at ``positions[i]`` of ``seqs[i]``, one forward pass per sequence, batched by length.

    Returns one float32 array per sequence, shape ``[len(positions[i]), k]`` in the order given,
    where ``k`` is ``len(token_ids)`` (or the vocabulary size) for ``head="causal-lm"`` and the
    number of labels (or ``len(token_ids)`` label columns) for ``head="token-cls"``. A position cut
    away by truncation gives a row of NaN. ``stats``, when given, is an object whose ``sequences``,
    ``tokens``, ``padded_tokens``, ``forward_calls``, ``truncated_sequences``, ``truncated_tokens``
    and ``forward_seconds`` attributes are increased (e.g. the backend's ``BackendStats``).
    """
    if len(seqs) != len(positions):
        raise ValueError(f"{len(seqs)} sequences but {len(positions)} position lists")
    if head not in ("causal-lm", "token-cls"):
        raise ValueError(f"head must be 'causal-lm' or 'token-cls', got {head!r}")
    fitted: list[tuple[list[int], list[int | None]]] = []
    for seq, ps in zip(seqs, positions, strict=True):
        if not seq:
            raise ValueError("cannot run an empty token sequence")
        kept, moved = fit_positions(seq, ps, max_length, truncation_side)
        if len(kept) < len(seq) and stats is not None:
            stats.truncated_sequences += 1
            stats.truncated_tokens += len(seq) - len(kept)
        fitted.append((kept, moved))
    width: int | None = None
    results: list[np.ndarray | None] = [None] * len(seqs)
    todo = [i for i, (_, moved) in enumerate(fitted) if any(p is not None for p in moved)]
    plan = pack_by_budget([len(fitted[i][0]) for i in todo], token_budget, max_batch_size)
    for batch in plan:
        idx = [todo[j] for j in batch]
        live = [[p for p in fitted[i][1] if p is not None] for i in idx]
        t0 = time.perf_counter()
        with torch.inference_mode():
            outs = _batch_logits(model, head, [fitted[i][0] for i in idx], live, token_ids, pad_id)
        if stats is not None:
            stats.forward_seconds += time.perf_counter() - t0
            stats.forward_calls += 1
            stats.sequences += len(idx)
            stats.tokens += sum(len(fitted[i][0]) for i in idx)
            stats.padded_tokens += len(idx) * max(len(fitted[i][0]) for i in idx)
        for i, arr in zip(idx, outs, strict=True):
            width = arr.shape[1]
            results[i] = _scatter(arr, fitted[i][1])
    k = width if width is not None else (len(token_ids) if token_ids is not None else 0)
    return [
        r if r is not None else np.full((len(positions[i]), k), np.nan, dtype=np.float32)
        for i, r in enumerate(results)
    ]


def _scatter(live: np.ndarray, moved: list[int | None]) -> np.ndarray:
    """Rows for every requested position: the computed rows in order, NaN where a position was cut."""
    out = np.full((len(moved), live.shape[1]), np.nan, dtype=np.float32)
    j = 0
    for i, p in enumerate(moved):
        if p is not None:
            out[i] = live[j]
            j += 1
    return out


def resolve_head(hf_config: Any, head: str) -> PositionHead:
    """``auto`` -> ``token-cls`` when the config declares a ``...ForTokenClassification`` architecture,
    else ``causal-lm``; an explicit head is returned as is."""
    if head in ("causal-lm", "token-cls"):
        return head  # type: ignore[return-value]
    if head != "auto":
        raise ValueError(f"head must be auto, causal-lm or token-cls, got {head!r}")
    archs = getattr(hf_config, "architectures", None) or []
    return "token-cls" if any(str(a).endswith("ForTokenClassification") for a in archs) else "causal-lm"


class PositionScorer:
    """``position_logits`` next to a :class:`~rmbench.backends.transformers.backend.TransformersBackend`.

    It loads the head's model with the backend's source, revision, dtype and device, and counts
    into the backend's stats. Interim home of the backend method: once ``TransformersBackend`` offers
    ``position_logits`` itself, adapters use the backend directly. The (process, transformers) entry
    of :mod:`rmbench.adapters.kinds` builds it.
    """

    name = "transformers"
    capabilities: frozenset[Capability] = frozenset({"position_scores"})

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self._models: dict[str, Any] = {}
        self._notes: dict[str, Any] = {}

    @property
    def tokenizer(self) -> Any:
        return self.backend.tokenizer

    def resolve_position_head(self, head: str) -> PositionHead:
        from transformers import AutoConfig

        cfg = self.backend.config
        hf_config = AutoConfig.from_pretrained(
            self.backend.source, revision=cfg.revision, trust_remote_code=cfg.trust_remote_code
        )
        return resolve_head(hf_config, head)

    def _model(self, head: PositionHead) -> Any:
        if head not in self._models:
            import transformers

            cls = (
                transformers.AutoModelForCausalLM
                if head == "causal-lm"
                else transformers.AutoModelForTokenClassification
            )
            cfg = self.backend.config
            model = cls.from_pretrained(
                self.backend.source,
                revision=cfg.revision,
                dtype=self.backend.dtype,
                trust_remote_code=cfg.trust_remote_code,
            )
            model.to(self.backend.device).eval()
            self._models[head] = model
            self._notes[head] = {"model_class": type(model).__name__}
        return self._models[head]

    @property
    def max_length(self) -> int:
        """Sequences longer than this are cut on the right (the adapter counts them as truncated)."""
        return int(self.backend.max_length)

    def position_logits(
        self,
        seqs: Sequence[Sequence[int]],
        positions: Sequence[Sequence[int]],
        token_ids: Sequence[int] | None = None,
        head: str = "causal-lm",
    ) -> list[np.ndarray]:
        """See :func:`position_logits`; truncation is on the right at the backend's ``max_length``."""
        h = resolve_head(None, head) if head != "auto" else self.resolve_position_head(head)
        model = self._model(h)
        pad = model.config.get_text_config().pad_token_id
        tok = self.tokenizer
        if pad is None:
            pad = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
        cfg = self.backend.config
        return position_logits(
            model,
            seqs,
            positions,
            head=h,
            token_ids=token_ids,
            pad_id=int(pad),
            max_length=self.backend.max_length,
            truncation_side="right",
            token_budget=cfg.token_budget,
            max_batch_size=cfg.max_batch_size,
            stats=self.backend.stats,
        )

    def describe(self) -> dict[str, Any]:
        info = dict(self.backend.describe())
        info["position_heads"] = dict(self._notes)
        return info
