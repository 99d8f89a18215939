"""Process reward models on vLLM: logits at chosen token positions, one pass per solution.

vLLM's pooling runner returns per-token classifier logits (pooling task ``token_classify``, raw
logits with ``PoolingParams(use_activation=False)``); the rows at the step positions are kept:

* ``head="token-cls"``: a ``...ForTokenClassification`` checkpoint, served as it is (its ``score``
  layer, bias included);
* ``head="causal-lm"``: the causal LM is converted by vLLM into a classifier whose weight rows are
  the output-embedding rows of the two step tokens (``convert="classify"``, ``hf_overrides``
  ``classifier_from_token`` + ``method="no_post_processing"``), so its two "labels" are exactly the
  LM logits of the good and bad step tokens. A checkpoint with logit soft-capping or an output bias
  would differ from transformers here; Llama/Qwen/Mistral-style PRMs have neither.

Sequences longer than the engine's length are cut on the right (as the transformers backend does
for process scoring); a position cut away comes back as a row of NaN.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from rmbench.backends.batching import truncate
from rmbench.errors import UserError


def resolve_position_head(config: Any, head: str) -> str:
    """``auto`` -> ``token-cls`` when the checkpoint declares ``...ForTokenClassification``."""
    if head in ("causal-lm", "token-cls"):
        return head
    if head != "auto":
        raise ValueError(f"head must be auto, causal-lm or token-cls, got {head!r}")
    from transformers import AutoConfig

    hf_config = AutoConfig.from_pretrained(config.model, trust_remote_code=config.trust_remote_code)
    archs = getattr(hf_config, "architectures", None) or []
    return "token-cls" if any(str(a).endswith("ForTokenClassification") for a in archs) else "causal-lm"


def step_token_overrides(tokenizer: Any, token_ids: Sequence[int]) -> dict[str, Any]:
    """``hf_overrides`` turning a causal LM into a classifier over the vocabulary rows ``token_ids``."""
    tokens = [tokenizer.convert_ids_to_tokens(int(i)) for i in token_ids]
    if any(not isinstance(t, str) for t in tokens):
        raise UserError(f"step token ids {list(token_ids)} are not in the tokenizer's vocabulary")
    return {"classifier_from_token": tokens, "method": "no_post_processing"}


def position_logits(
    backend: Any, seqs: Sequence[Sequence[int]], positions: Sequence[Sequence[int]],
    token_ids: Sequence[int] | None = None, head: str = "causal-lm",
) -> list[np.ndarray]:
    """For each sequence, a float32 array ``[len(positions[i]), labels]`` of raw logits (columns:
    ``token_ids`` for ``causal-lm``, the labels for ``token-cls``); NaN rows for positions cut away."""
    if len(positions) != len(seqs):
        raise ValueError(f"{len(seqs)} sequences but {len(positions)} position lists")
    h = resolve_position_head(backend.config, head)
    overrides: dict[str, Any] = {}
    if h == "causal-lm":
        if token_ids is None or len(token_ids) != 2:
            raise ValueError("head causal-lm needs the two step token ids (good, bad)")
        overrides = step_token_overrides(backend.tokenizer, token_ids)
    llm = backend._engine("pooling", overrides, task="token_classify")
    limit = backend.max_length
    vllm = backend._vllm
    prompts, kept = [], []
    for seq, pos in zip(seqs, positions, strict=True):
        if not seq:
            raise ValueError("cannot score an empty token sequence")
        ids, cut = truncate(seq, limit, "right")
        backend.stats.truncated_sequences += bool(cut)
        prompts.append(vllm.TokensPrompt(prompt_token_ids=ids))
        kept.append([p if p < len(ids) else None for p in pos])
    started = time.perf_counter()
    params = vllm.PoolingParams(use_activation=False)
    results = (
        llm.encode(prompts, pooling_params=params, pooling_task="token_classify", use_tqdm=False) if prompts else []
    )
    backend.stats.run_seconds += time.perf_counter() - started
    backend.stats.scored_sequences += len(prompts)
    out = []
    for result, pos in zip(results, kept, strict=True):
        data = result.outputs.data.float().cpu().numpy()
        rows = np.full((len(pos), data.shape[-1]), np.nan, dtype=np.float32)
        for k, p in enumerate(pos):
            if p is not None:
                rows[k] = data[p]
        out.append(rows)
    return out
