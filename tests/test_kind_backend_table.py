"""Model kind x backend is one table: unsupported pairs are refused (exit 2) with the pairs that work.

Runs in the main environment: refusal happens before any engine is imported, so neither vLLM nor a
server is needed. Before the table, ``--kind critic --backend vllm`` silently ran on transformers and
``--kind scalar --backend openai`` silently ignored ``--backend`` (it now runs on vLLM's ``/classify``:
tests/test_openai_backend.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rmbench.adapters.build import build_adapter
from rmbench.adapters.kinds import ADAPTERS, BACKENDS, KIND_NEEDS, adapter_factory, supported_pairs
from rmbench.backends import CAPABILITIES, require
from rmbench.errors import BackendRefused, UserError


def _pairs_file(tmp_path: Path) -> Path:
    data = tmp_path / "prefs.jsonl"
    rows = [{"prompt": "Say hi.", "chosen": "Hi!", "rejected": "No."}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return data


def test_every_table_entry_names_a_known_kind_backend_and_factory() -> None:
    for kind, backend in ADAPTERS:
        assert kind in KIND_NEEDS and backend in BACKENDS
        assert callable(adapter_factory(kind, backend))
    assert set(KIND_NEEDS.values()) <= set(CAPABILITIES)


@pytest.mark.parametrize(("kind", "backend"), [("likelihood", "openai"), ("process", "openai"), ("implicit", "vllm")])
def test_unsupported_pair_is_refused_with_the_supported_pairs(kind: str, backend: str) -> None:
    with pytest.raises(UserError) as info:
        build_adapter("/nonexistent/model", kind, backend=backend, ref_model="/x" if kind == "implicit" else None)
    text = str(info.value)
    assert f"--kind {kind} does not run on --backend {backend}" in text
    assert all(pair in text for pair in supported_pairs())


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(UserError, match="unknown backend 'tpu'"):
        build_adapter("/nonexistent/model", "scalar", backend="tpu")


def test_baseline_takes_no_backend() -> None:
    with pytest.raises(UserError, match="runs no model"):
        build_adapter("baseline:length", "baseline", backend="vllm")
    assert build_adapter("baseline:length", "baseline").kind == "baseline"


def test_old_judge_backend_keyword_still_selects_the_engine() -> None:
    with pytest.raises(UserError, match="needs the server URL"):
        build_adapter("some-model", "judge", judge_backend="openai")


def test_require_names_backend_and_capability() -> None:
    class Chat:
        name, capabilities = "openai", frozenset({"generation"})

    require(Chat(), "generation")
    with pytest.raises(BackendRefused, match="the openai backend cannot give log-probabilities.*token_logprobs"):
        require(Chat(), "token_logprobs", needed_by="--kind likelihood")


def test_cli_refuses_an_unsupported_pair_with_exit_2(tmp_path: Path, tiny_rm_dir: Path) -> None:
    """The real command line: exit code 2, one message naming the pairs that work, nothing loaded."""
    cmd = [
        sys.executable, "-m", "rmbench.cli.commands", "run", "--model", str(tiny_rm_dir), "--kind", "likelihood",
        "--backend", "openai", "--task", "pairs", "--data-file", str(_pairs_file(tmp_path)),
        "--out", str(tmp_path / "run"),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stdout + done.stderr
    err = " ".join((done.stdout + done.stderr).split())
    assert "--kind likelihood does not run on --backend openai" in err
    assert "likelihood/transformers" in err and "scalar/openai" in err and "judge/openai" in err
    assert "Traceback" not in err


def test_openai_backend_declares_generation_and_scores_only() -> None:
    from rmbench.backends.openai_backend import OpenAIBackend, OpenAIOptions

    backend = OpenAIBackend(OpenAIOptions(base_url="http://127.0.0.1:9/v1", model="m"))
    require(backend, "generation")
    require(backend, "sequence_scores")  # through a vLLM server's /classify
    with pytest.raises(BackendRefused, match="openai backend cannot give log-probabilities"):
        require(backend, "token_logprobs", needed_by="--kind likelihood")
