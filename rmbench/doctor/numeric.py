"""Do scores depend on how sequences are batched? Score changes and decision flips across settings.

The same token sequences (what rmbench scores for the sample) are scored by the loaded model under
four settings, all in one dtype:

* ``batch 1``: every sequence alone, no padding -- the reference;
* ``packed``: rmbench's own path (length-sorted batches under the token budget, shared prompt prefixes
  computed once), exactly what ``rmbench run`` does;
* ``batch 8, right padding``: fixed batches of 8 in sample order (the usual pipeline), right-padded;
* ``batch 8, left padding``: the same batches padded on the left, with position ids from the mask.

Each setting is compared with ``batch 1``: the largest absolute score difference and the number of
flipped pairwise decisions (a pair whose order -- better, worse or tied -- changes). A pair is
(chosen, rejected) of a pairwise item, or (correct, incorrect) of a multi-response item.
torch is imported inside the functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rmbench.datatypes import Example, MultiResponseExample, PairwiseExample

BATCH = 8
"""Rows per batch in the fixed-batch settings."""
Scores = list[list[float]]
"""One score per response, per example (the order of :func:`rmbench.adapters.responses.responses_of`)."""


@dataclass(frozen=True)
class Comparison:
    """One setting against the reference: max |score difference| and flipped decisions out of ``pairs``."""

    setting: str
    max_diff: float
    flips: int
    pairs: int


def decision_pairs(example: Example) -> list[tuple[int, int]]:
    """(better, worse) response indices the grader compares: chosen/rejected, or every correct/incorrect."""
    if isinstance(example, PairwiseExample):
        return [(0, 1)]
    if isinstance(example, MultiResponseExample):
        k = len(example.correct)
        return [(i, k + j) for i in range(k) for j in range(len(example.incorrect))]
    return []


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def compare(setting: str, examples: Sequence[Example], ref: Scores, other: Scores) -> Comparison:
    """``other`` against ``ref``: the largest |difference| (NaN pairs skipped) and the decisions that flip."""
    diffs = [abs(a - b) for ra, rb in zip(ref, other, strict=True) for a, b in zip(ra, rb, strict=True)
             if not (math.isnan(a) or math.isnan(b))]
    flips = pairs = 0
    for ex, ra, rb in zip(examples, ref, other, strict=True):
        for i, j in decision_pairs(ex):
            pairs += 1
            flips += _sign(ra[i] - ra[j]) != _sign(rb[i] - rb[j])
    return Comparison(setting, max(diffs, default=0.0), flips, pairs)


# ------------------------------------------------------------------------------------ scoring
def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[k : k + size] for k in range(0, len(items), size)]


def _regroup(flat: list[Any], groups: Sequence[Sequence[Any]]) -> list[list[Any]]:
    out, at = [], 0
    for g in groups:
        out.append(flat[at : at + len(g)])
        at += len(g)
    return out


def _pad_left(seqs: list[list[int]], pad_id: int, device: Any) -> tuple[Any, Any, Any]:
    """(input_ids, attention_mask, position_ids), padded on the left; positions count real tokens only."""
    from rmbench.backends.transformers.generate import pad_left

    ids, mask = pad_left(seqs, pad_id)
    positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
    return ids.to(device), mask.to(device), positions.to(device)


def left_padded_scores(runner: Any, reqs: list[Any]) -> list[float]:
    """Classifier scores of one left-padded batch, read at the last position (every row's last real token)."""
    ids, mask, positions = _pad_left([r.ids for r in reqs], runner.pad_id, runner.model.device)
    hidden = runner.base(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=False).last_hidden_state
    return [float(v) for v in runner.head(hidden[:, -1])[:, runner.label].float().tolist()]


def left_padded_logprobs(runner: Any, reqs: list[Any]) -> list[list[float]]:
    """Token log-probs (of ``ids[start:]``) from one left-padded batch of a causal LM."""
    import torch

    ids, mask, positions = _pad_left([r.ids for r in reqs], runner.pad_id, runner.model.device)
    width = ids.shape[1]
    offsets = [width - len(r.ids) for r in reqs]
    lo = min(o + r.start - 1 for o, r in zip(offsets, reqs, strict=True))
    keep = torch.arange(lo, width - 1, device=ids.device)
    logits = runner.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=False,
                          logits_to_keep=keep).logits
    out = []
    for i, (o, r) in enumerate(zip(offsets, reqs, strict=True)):
        rows = logits[i, o + r.start - 1 - lo : o + len(r.ids) - 1 - lo].float()
        targets = torch.tensor(r.ids[r.start :], device=ids.device)[:, None]
        out.append(torch.log_softmax(rows, dim=-1).gather(1, targets)[:, 0].tolist() if len(targets) else [])
    return out


def setting_scores(backend: Any, method: str, groups: list[list[list[int]]], starts: list[list[int]] | None,
                   reduce: Callable[[list[float]], float]) -> dict[str, Scores]:
    """Per-response scores of every setting (see the module docstring), keyed by setting name.

    ``method`` is ``sequence_scores`` (``groups``: each example's token sequences) or ``token_logprobs``
    (``starts``: where each response's tokens start; ``reduce`` turns its log-probs into a score).
    """
    import torch

    from rmbench.backends.transformers.backend import BackendStats

    runner = backend.runner(method)
    flat_starts = [s for g in starts for s in g] if starts is not None else None
    reqs = [backend.request(s, None if flat_starts is None else flat_starts[k])
            for k, s in enumerate(x for g in groups for x in g)]
    stats = BackendStats()
    as_score = (lambda v: v) if method == "sequence_scores" else reduce

    # a response truncated away (nothing left to score) is left out of the forwards, like the backend does
    todo = [k for k, r in enumerate(reqs) if method == "sequence_scores" or r.start < len(r.ids)]

    def batched(fn: Callable[[list[Any]], list[Any]], size: int) -> Scores:
        values: list[Any] = [[] for _ in reqs]
        with torch.inference_mode():
            for chunk in _chunks(todo, size):
                for k, v in zip(chunk, fn([reqs[k] for k in chunk]), strict=True):
                    values[k] = v
        return _regroup([as_score(v) for v in values], groups)

    out = {"batch 1": batched(lambda c: runner.plain(c, stats), 1)}
    if method == "sequence_scores":
        out["packed (rmbench)"] = backend.sequence_scores_grouped(groups)
    else:
        out["packed (rmbench)"] = [[reduce(v) for v in g] for g in backend.token_logprobs_grouped(groups, starts)]
    out[f"batch {BATCH}, right padding"] = batched(lambda c: runner.plain(c, stats), BATCH)
    if method == "token_logprobs":
        out[f"batch {BATCH}, left padding"] = batched(lambda c: left_padded_logprobs(runner, c), BATCH)
    elif runner.last_token:
        out[f"batch {BATCH}, left padding"] = batched(lambda c: left_padded_scores(runner, c), BATCH)
    return out
