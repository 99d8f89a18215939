"""``rmbench run``'s vLLM parallelism options (:class:`rmbench.backends.vllm_config.VLLMParallel`).

The model length is ``--max-length`` (vLLM's ``max_model_len``), shared with the other backends.
Recipes for several GPUs: "vLLM on several GPUs" in docs/backends.md.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from rmbench.config import ExecutorBackend

VLLM_PANEL = "Model & engine"  # the run command's MODEL panel

TensorParallel = Annotated[int, typer.Option(
    help="--backend vllm: GPUs each layer is split over (vLLM tensor_parallel_size).", rich_help_panel=VLLM_PANEL)]
PipelineParallel = Annotated[int, typer.Option(
    help="--backend vllm: GPUs the layers are spread over in stages (vLLM pipeline_parallel_size).",
    rich_help_panel=VLLM_PANEL)]
DataParallel = Annotated[int, typer.Option(
    help="--backend vllm: only 1 (vLLM's offline engine refuses more); run shards for replicas (docs/backends.md).",
    rich_help_panel=VLLM_PANEL)]
GpuMemoryUtilization = Annotated[Optional[float], typer.Option(
    help="--backend vllm: share of each GPU's memory vLLM may take, in (0, 1] (default vLLM's 0.9).",
    rich_help_panel=VLLM_PANEL)]
DistributedExecutor = Annotated[ExecutorBackend, typer.Option(
    help="--backend vllm: auto (uni when every size is 1, else vLLM's choice), uni, mp or ray.",
    rich_help_panel=VLLM_PANEL)]
