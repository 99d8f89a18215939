"""Tiny random-weight Llama models with a real tokenizer, for fast tests of the model plumbing.

The weights are random (seeded), so scores and generations mean nothing; what is real is everything
around them: the tokenizer, the chat template, the config, the files on disk, and the loading path
(``AutoModelFor...from_pretrained(folder)``), which is the same as for a published model.
torch and transformers are imported inside :func:`build_tiny_model`, so importing this module is cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

TinyKind = Literal["causal-lm", "seq-cls", "token-cls"]

_AUTO_CLASS: dict[str, str] = {
    "causal-lm": "AutoModelForCausalLM",
    "seq-cls": "AutoModelForSequenceClassification",
    "token-cls": "AutoModelForTokenClassification",
}


def build_tiny_model(
    out_dir: Path,
    *,
    kind: TinyKind,
    tokenizer_dir: Path,
    seed: int = 0,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 2,
    head_dim: int = 32,
    max_position_embeddings: int = 4096,
    num_labels: int | None = None,
) -> Path:
    """Save a tiny random Llama of the given ``kind`` with the tokenizer from ``tokenizer_dir``.

    - ``causal-lm``: ``LlamaForCausalLM`` with tied input/output embeddings.
    - ``seq-cls``: ``LlamaForSequenceClassification``, ``num_labels=1`` by default (a scalar reward);
      ``pad_token_id`` is set in the config, which the model needs to find each row's last token.
    - ``token-cls``: ``LlamaForTokenClassification``, ``num_labels=2`` by default.

    The vocabulary size is ``len(tokenizer)``, so every token id the tokenizer produces is valid.
    ``head_dim`` defaults to 32 because vLLM's CPU attention refuses 16. Weights are float32
    safetensors; the same ``seed`` (and torch version) gives identical weights, and the global torch
    RNG is left untouched. The saved tokenizer's ``model_max_length`` is ``max_position_embeddings``.
    Returns ``out_dir``, created if needed (existing files are overwritten).
    """
    if kind not in _AUTO_CLASS:
        raise ValueError(f"kind must be one of {sorted(_AUTO_CLASS)}, got {kind!r}")
    import torch
    import transformers
    from transformers import AutoTokenizer, LlamaConfig

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if kind == "seq-cls" and pad_token_id is None:
        raise ValueError(f"the tokenizer in {tokenizer_dir} has neither a pad nor an eos token")
    if num_labels is None:
        num_labels = {"causal-lm": 2, "seq-cls": 1, "token-cls": 2}[kind]

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=4 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_heads,
        head_dim=head_dim,
        max_position_embeddings=max_position_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=pad_token_id,
        tie_word_embeddings=(kind == "causal-lm"),
    )
    config.num_labels = num_labels
    auto_class = getattr(transformers, _AUTO_CLASS[kind])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = auto_class.from_config(config, dtype=torch.float32)
    model.eval()

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.model_max_length = max_position_embeddings
    tokenizer.save_pretrained(out_dir)
    return out_dir
