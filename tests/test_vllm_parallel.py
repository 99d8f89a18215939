"""vLLM parallelism options (issue 17 item 4): checked early, turned into ``vllm.LLM`` keywords.

These run without vLLM: :func:`rmbench.backends.vllm_config.engine_kwargs` is the pure function the
backend hands to ``vllm.LLM(**kwargs)``. That the keywords reach a real engine and run.json is tested
in ``tests/test_vllm_backend.py`` (``-k parallel``), in the vLLM environment.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rmbench.backends.vllm_config import VLLMConfig, VLLMParallel, engine_kwargs
from rmbench.config import EngineOptions, RunConfig
from rmbench.errors import UserError


def test_defaults_keep_one_in_process_worker() -> None:
    kwargs = engine_kwargs(VLLMConfig(model="m"), "generate", "float32", 20)
    assert kwargs["distributed_executor_backend"] == "uni"  # the CPU build needs it
    assert kwargs["tensor_parallel_size"] == kwargs["pipeline_parallel_size"] == 1
    assert "gpu_memory_utilization" not in kwargs  # vLLM's own default
    assert kwargs["enable_prefix_caching"] is True  # judges: segments / orders share their prefix
    assert "enable_prefix_caching" not in engine_kwargs(VLLMConfig(model="m"), "pooling", "float32", 20)


def test_parallel_sizes_reach_the_engine_keywords() -> None:
    parallel = VLLMParallel(tensor_parallel_size=8, pipeline_parallel_size=2, gpu_memory_utilization=0.85)
    kwargs = engine_kwargs(VLLMConfig(model="m", max_model_len=8192, parallel=parallel), "generate", "bfloat16", 20)
    assert kwargs["tensor_parallel_size"] == 8
    assert kwargs["pipeline_parallel_size"] == 2
    assert kwargs["gpu_memory_utilization"] == 0.85
    assert kwargs["max_model_len"] == 8192
    assert "distributed_executor_backend" not in kwargs  # several workers: vLLM picks mp (or ray)
    assert parallel.describe()["executor_used"] == "vllm-default"
    explicit = VLLMParallel(tensor_parallel_size=2, distributed_executor_backend="ray")
    assert engine_kwargs(VLLMConfig(model="m", parallel=explicit), "pooling", "auto", 20)[
        "distributed_executor_backend"] == "ray"


def test_engine_options_build_the_parallel_settings() -> None:
    engine = EngineOptions(backend="vllm", tensor_parallel_size=4, gpu_memory_utilization=0.5)
    assert engine.vllm_parallel() == VLLMParallel(tensor_parallel_size=4, gpu_memory_utilization=0.5)
    assert RunConfig.from_flat(model="m", task="t", backend="vllm", pipeline_parallel_size=2).engine.vllm_parallel(
    ).pipeline_parallel_size == 2


@pytest.mark.parametrize(("options", "message"), [
    ({"backend": "vllm", "tensor_parallel_size": 0}, "--tensor-parallel-size 0: must be at least 1"),
    ({"backend": "vllm", "pipeline_parallel_size": 1.5}, "--pipeline-parallel-size 1.5: expected a whole number"),
    ({"backend": "vllm", "gpu_memory_utilization": 0.0}, "--gpu-memory-utilization 0.0: must be a fraction in (0, 1]"),
    ({"backend": "vllm", "gpu_memory_utilization": 1.2}, "--gpu-memory-utilization 1.2: must be a fraction in (0, 1]"),
    ({"backend": "vllm", "data_parallel_size": 2}, "--data-parallel-size 2: vLLM's offline engine does not run"),
    ({"backend": "vllm", "distributed_executor_backend": "uni", "tensor_parallel_size": 2}, "uni runs one worker"),
    ({"backend": "vllm", "distributed_executor_backend": "slurm"}, "--distributed-executor-backend 'slurm'"),
    ({"tensor_parallel_size": 2}, "--tensor-parallel-size applies to --backend vllm only"),
    ({"backend": "openai", "gpu_memory_utilization": 0.9}, "--gpu-memory-utilization applies to --backend vllm only"),
])  # fmt: skip
def test_bad_values_are_refused_by_flag(options: dict[str, object], message: str) -> None:
    with pytest.raises(UserError) as err:
        EngineOptions(**options)  # type: ignore[arg-type]
    assert message in str(err.value)


def test_cli_refuses_before_reading_data(tmp_path: Path) -> None:
    """One line, exit 2, before any task data or model is touched (the model folder does not exist)."""
    cmd = [sys.executable, "-m", "rmbench.cli.commands", "run", "--task", "llmbar", "--bundled",
           "--model", str(tmp_path / "absent"), "--tensor-parallel-size", "2", "--out", str(tmp_path / "run")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "--tensor-parallel-size applies to --backend vllm only" in done.stdout + done.stderr
    assert not (tmp_path / "run").exists()
