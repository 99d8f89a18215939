"""What a model can take is decided before scoring: its context length, its scoring head, threads.

* ``--max-length`` defaults to the model's own limit (a 2,048-position model scored past 4,096 before)
  and a larger value is refused unless ``--force-max-length``; run.json records the length and why.
* A causal LM loaded as a reward model (a randomly initialised ``score`` head) is refused unless
  ``--allow-random-head``.
* torch's CPU threads follow one stated rule and are recorded in run.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rmbench.backends.threads import choose_threads, physical_cores
from rmbench.backends.transformers.model_limits import position_limit, resolve_max_length
from rmbench.errors import UserError


@pytest.fixture(scope="module")
def short_rm_dir(tmp_path_factory: pytest.TempPathFactory, smollm2_dir: Path) -> Path:
    """A tiny reward model that accepts 64 positions (config and tokenizer agree)."""
    from rmbench.testing.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("short-rm"), kind="seq-cls", tokenizer_dir=smollm2_dir,
                            max_position_embeddings=64)


def _run(args: list[str]):  # type: ignore[no-untyped-def]
    """The CLI app in-process: a UserError comes back as ``result.exception`` (``main`` exits 2 on it)."""
    from typer.testing import CliRunner

    from rmbench.cli.commands import app

    return CliRunner().invoke(app, ["run", "--quiet", "--n-bootstrap", "200", *args])


# --- max length ---------------------------------------------------------------------------------
class _Config:
    def __init__(self, positions: object) -> None:
        self.max_position_embeddings = positions


class _Tokenizer:
    def __init__(self, declared: object) -> None:
        self.model_max_length = declared


def test_position_limit_takes_the_smaller_sane_value() -> None:
    assert position_limit(_Config(514), _Tokenizer(512))[0] == 512  # RoBERTa: 514 positions, 512 usable
    assert position_limit(_Config(2048), _Tokenizer(int(1e30)))[0] == 2048  # "no limit" tokenizer ignored
    assert position_limit(_Config(None), _Tokenizer(int(1e30))) == (None, "the model declares no limit")
    assert resolve_max_length(None, _Config(None), _Tokenizer(None))[0] == 4096
    assert resolve_max_length(None, _Config(2048), _Tokenizer(8192))[0] == 2048
    assert resolve_max_length(1000, _Config(2048), _Tokenizer(None))[0] == 1000
    with pytest.raises(UserError, match="more than this model accepts"):
        resolve_max_length(4096, _Config(2048), _Tokenizer(None))
    length, source = resolve_max_length(4096, _Config(2048), _Tokenizer(None), force=True)
    assert length == 4096 and "forced" in source


def test_default_max_length_is_the_models_limit_and_larger_is_refused(
    short_rm_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    common = ["--model", str(short_rm_dir), "--task", "llmbar", "--data-dir", str(data_dir), "--limit", "2",
              "--subset", "llmbar-natural"]
    r = _run([*common, "--out", str(tmp_path / "auto")])
    assert r.exit_code == 0, r.output
    run = json.loads((tmp_path / "auto" / "run.json").read_text())
    assert run["model"]["max_length"] == 64
    assert "max_position_embeddings=64" in run["model"]["max_length_source"]
    assert run["config"]["max_length"] is None  # "auto" is the identity, so a rerun resumes
    items = [json.loads(line) for line in (tmp_path / "auto" / "items.jsonl").read_text().splitlines()]
    assert all(it["extra"].get("truncated") for it in items)  # LLMBar Natural items are longer than 64 tokens
    again = _run([*common, "--out", str(tmp_path / "auto")])
    assert again.exit_code == 0 and "0 items scored, 2 reused" in again.output

    refused = _run([*common, "--max-length", "128", "--out", str(tmp_path / "long")])
    assert isinstance(refused.exception, UserError) and "--force-max-length" in str(refused.exception)
    assert not (tmp_path / "long" / "items.jsonl").exists()

    forced = _run([*common, "--max-length", "128", "--force-max-length", "--out", str(tmp_path / "long")])
    assert forced.exit_code == 0, forced.output
    run = json.loads((tmp_path / "long" / "run.json").read_text())
    assert run["model"]["max_length"] == 128 and "forced" in run["model"]["max_length_source"]


# --- random heads -------------------------------------------------------------------------------
def test_causal_lm_as_reward_model_is_refused_unless_allowed(
    tiny_lm_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    common = ["--model", str(tiny_lm_dir), "--task", "llmbar", "--data-dir", str(data_dir), "--limit", "1",
              "--subset", "llmbar-natural"]
    r = _run([*common, "--out", str(tmp_path / "auto")])  # --kind auto -> scalar on llmbar
    assert isinstance(r.exception, UserError)  # main() prints it and exits 2
    message = str(r.exception)
    assert "LlamaForCausalLM" in message and "score.weight" in message
    assert "--kind likelihood" in message and "--allow-random-head" in message
    assert not (tmp_path / "auto" / "items.jsonl").exists()

    allowed = _run([*common, "--allow-random-head", "--out", str(tmp_path / "allowed")])
    assert allowed.exit_code == 0, allowed.output
    run = json.loads((tmp_path / "allowed" / "run.json").read_text())
    assert run["model"]["heads"]["seq-cls"]["randomly_initialised"] == ["score.weight"]


def test_a_saved_reward_model_is_not_refused(tiny_rm_dir: Path) -> None:
    from rmbench.backends.transformers.backend import ModelConfig, TransformersBackend

    backend = TransformersBackend(ModelConfig(str(tiny_rm_dir)))
    backend.prepare("sequence_scores")
    assert "randomly_initialised" not in backend.describe()["heads"]["seq-cls"]


# --- threads ------------------------------------------------------------------------------------
def test_thread_rule() -> None:
    assert choose_threads(3, environ={"OMP_NUM_THREADS": "1"}) == (3, "--threads")
    assert choose_threads(None, environ={"OMP_NUM_THREADS": "2"}, cores=8, busy=0)[0] == 2
    assert choose_threads(None, environ={}, cores=8, busy=0)[0] == 8
    assert choose_threads(None, environ={}, cores=2, busy=1)[0] == 1  # one other busy process
    assert choose_threads(None, environ={}, cores=2, busy=5)[0] == 1
    assert choose_threads(None, environ={"OMP_NUM_THREADS": "x"}, cores=4, busy=1)[0] == 3
    with pytest.raises(UserError):
        choose_threads(0)
    assert physical_cores() >= 1


def test_threads_option_is_applied_and_recorded(tiny_rm_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    import torch

    before = torch.get_num_threads()
    try:
        r = _run(["--model", str(tiny_rm_dir), "--task", "llmbar", "--data-dir", str(data_dir), "--limit", "1",
                  "--subset", "llmbar-natural", "--threads", "2", "--out", str(tmp_path / "run")])
        assert r.exit_code == 0, r.output
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["model"]["threads"] == {"n": 2, "reason": "--threads"}
