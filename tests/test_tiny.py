"""Tiny random Llama models: they load through the ordinary Auto classes, carry SmolLM2's tokenizer
and chat template, and are reproducible from their seed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rmbench.testing.tiny import build_tiny_model

PAIR = ["Hello world", "A longer sentence, so the first one gets padded on the right."]


def _state(folder: Path) -> dict:  # type: ignore[type-arg]
    from safetensors.torch import load_file

    return load_file(folder / "model.safetensors")


def test_causal_lm_loads_and_keeps_the_tokenizer(tiny_lm_dir: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_lm_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_lm_dir).eval()
    assert type(model).__name__ == "LlamaForCausalLM" and model.dtype == torch.float32
    assert model.config.vocab_size == len(tokenizer) == 49152
    assert model.config.head_dim == 32 and model.config.num_hidden_layers == 2
    assert tokenizer.model_max_length == model.config.max_position_embeddings == 4096
    assert tokenizer.chat_template and "<|im_start|>" in tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False
    )
    inputs = tokenizer(PAIR[:1], return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=3, do_sample=False)
    assert out.shape[1] == inputs["input_ids"].shape[1] + 3


def test_reward_model_gives_one_score_per_sequence_independent_of_padding(tiny_rm_dir: Path) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_rm_dir)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_rm_dir).eval()
    assert model.config.num_labels == 1
    assert model.config.pad_token_id == tokenizer.pad_token_id is not None
    with torch.no_grad():
        batch = model(**tokenizer(PAIR, padding=True, return_tensors="pt")).logits
        alone = torch.cat([model(**tokenizer([text], return_tensors="pt")).logits for text in PAIR])
    assert tuple(batch.shape) == (2, 1)
    torch.testing.assert_close(batch, alone, rtol=0, atol=1e-5)
    assert batch[0, 0] != batch[1, 0]


def test_token_classifier_scores_every_token(tiny_tokcls_dir: Path) -> None:
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_tokcls_dir)
    model = AutoModelForTokenClassification.from_pretrained(tiny_tokcls_dir).eval()
    inputs = tokenizer(PAIR, padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**inputs).logits
    assert tuple(logits.shape) == (*inputs["input_ids"].shape, 2)


def test_same_seed_same_weights_other_seed_other_weights(tmp_path: Path, smollm2_dir: Path) -> None:
    import torch

    rng_before = torch.get_rng_state()
    a = build_tiny_model(tmp_path / "a", kind="seq-cls", tokenizer_dir=smollm2_dir, seed=7)
    b = build_tiny_model(tmp_path / "b", kind="seq-cls", tokenizer_dir=smollm2_dir, seed=7)
    c = build_tiny_model(tmp_path / "c", kind="seq-cls", tokenizer_dir=smollm2_dir, seed=8)
    assert torch.equal(rng_before, torch.get_rng_state())  # the caller's RNG is untouched
    sa, sb, sc = _state(a), _state(b), _state(c)
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["score.weight"], sc["score.weight"])


def test_sizes_are_configurable(tmp_path: Path, smollm2_dir: Path) -> None:
    folder = build_tiny_model(
        tmp_path / "m",
        kind="causal-lm",
        tokenizer_dir=smollm2_dir,
        hidden_size=96,
        num_layers=1,
        num_heads=3,
        head_dim=32,
        max_position_embeddings=512,
    )
    config = json.loads((folder / "config.json").read_text())
    assert (config["hidden_size"], config["num_hidden_layers"], config["num_attention_heads"]) == (96, 1, 3)
    assert (config["head_dim"], config["max_position_embeddings"]) == (32, 512)
    assert config["dtype"] == "float32" and config["tie_word_embeddings"] is True


def test_unknown_kind_is_rejected(tmp_path: Path, smollm2_dir: Path) -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        build_tiny_model(tmp_path, kind="regression", tokenizer_dir=smollm2_dir)  # type: ignore[arg-type]
