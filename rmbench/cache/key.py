"""Cache keys: which settings and which example content decide a score.

A score is cached under ``sha256(settings key, example content)``:

* the **settings key** (:func:`settings_parts`) holds the model's identity (a sha256 over every file of
  its folder, so weights, config, tokenizer and chat template all count; a Hub id is resolved to the
  commit the local Hugging Face cache holds), the kind, the resolved dtype, the length limit and
  truncation side, the kind's options (``--reduction`` for likelihood, the reference model for implicit,
  the step format and threshold for process), the backend, and the rmbench and transformers versions
  (a new release may render or tokenize differently, so it starts a new cache);
* the **example content** (:func:`example_key`) is what the evaluator reads: the example without its
  id, subset, cluster and meta, so another task holding the same prompt and responses shares scores.

:func:`cache_refusal` names the runs that are never cached and why. Nothing here imports torch unless
``--dtype auto --device auto`` must learn whether a GPU is present.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from rmbench import __version__
from rmbench.config import RunConfig
from rmbench.datatypes import Example

CACHE_FORMAT = 1  # bump when the stored value or the key's parts change meaning
CACHED_KINDS = ("scalar", "likelihood", "implicit", "process")
CACHED_BACKENDS = ("transformers",)
_COMMIT = re.compile(r"^[0-9a-f]{40}$")

FileDigest = Callable[[Path], str]
"""sha256 hex of one file (the store memoises it by path, size and modification time)."""


def sha256_json(payload: Any) -> str:
    """Full sha256 hex of a JSON payload with sorted keys (64 digits: no truncation in a cache key)."""
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def example_key(example: Example) -> str:
    """sha256 of what an evaluator reads from ``example``: everything but its id, subset, cluster and meta."""
    content = example.to_dict()
    for name in ("id", "subset", "cluster", "meta"):
        content.pop(name, None)
    return sha256_json(content)


def entry_key(settings_key: str, example_hash: str) -> str:
    """The key of one cached score."""
    return hashlib.sha256(f"{settings_key}:{example_hash}".encode()).hexdigest()


def cache_refusal(cfg: RunConfig) -> str | None:
    """Why ``cfg``'s scores are not cached (``None``: they are)."""
    if not cfg.engine.score_cache:
        return "--no-cache"
    if cfg.scores is not None or cfg.kind in ("baseline", "precomputed") or cfg.model.startswith("baseline:"):
        return "no model runs"
    if cfg.kind not in CACHED_KINDS:
        return f"--kind {cfg.kind} is not cached (cached kinds: {', '.join(CACHED_KINDS)})"
    if cfg.engine.backend not in CACHED_BACKENDS:
        return f"--backend {cfg.engine.backend} is not cached (cached backends: {', '.join(CACHED_BACKENDS)})"
    if cfg.engine.allow_random_head:
        return "--allow-random-head: a random score head is not a function of the settings"
    if cfg.kind == "process" and cfg.process.threshold_from is not None:
        return "--threshold-from: the threshold comes from another run's items"
    return None


def settings_parts(cfg: RunConfig, digest: FileDigest) -> dict[str, Any]:
    """Everything besides the example that decides a cached score (see the module docstring).
    Raises :class:`LookupError` when the model's identity cannot be known before loading it."""
    engine = cfg.engine
    parts: dict[str, Any] = {
        "format": CACHE_FORMAT,
        "rmbench": __version__,
        "transformers": _version("transformers"),
        "backend": engine.backend,
        "model": model_identity(cfg.model, digest),
        "kind": cfg.kind,
        "dtype": resolved_dtype(engine.dtype, engine.device),
        "max_length": engine.max_length,
        "force_max_length": engine.force_max_length,
        "truncation_side": engine.truncation_side,
    }
    if cfg.kind == "likelihood":
        parts["reduction"] = cfg.reduction
    if cfg.kind == "implicit":
        parts["ref_model"] = model_identity(cfg.ref_model or cfg.model, digest)
    if cfg.kind == "process":
        from rmbench.adapters.steps.config import process_settings_dict

        parts["process"] = {k: str(v) if isinstance(v, Path) else v for k, v in process_settings_dict(cfg.process).items()}
    return parts


def model_identity(model: str, digest: FileDigest) -> dict[str, Any]:
    """``{"files_sha256": ...}`` for a local folder (every file, names and bytes), a Hub id's commit,
    or :class:`LookupError` when neither can be known without downloading."""
    from rmbench.backends.model_source import locate_model, parse_model

    source, revision = parse_model(model)
    path, local = locate_model(source)
    if local:
        return {"files_sha256": folder_digest(Path(path), digest)}
    commit = revision if revision and _COMMIT.match(revision) else _cached_commit(source, revision or "main")
    if commit is None:
        raise LookupError(f"the Hub model {model} is not in the local Hugging Face cache; pin it as {source}@<commit>")
    return {"hub": source, "commit": commit}


def folder_digest(folder: Path, digest: FileDigest) -> str:
    """sha256 over the relative names and digests of every file under ``folder`` (hidden ones left out)."""
    lines = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts):
            continue
        lines.append(f"{rel.as_posix()}\0{digest(path)}")
    if not lines:
        raise LookupError(f"the model folder {folder} holds no files")
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 hex of one file's bytes, read in 16 MiB blocks."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 24):
            h.update(block)
    return h.hexdigest()


def resolved_dtype(dtype: str, device: str) -> str:
    """The dtype a run will use, known before loading: ``auto`` is float32 on CPU and the checkpoint's
    half precision on an accelerator (the checkpoint is in the model's identity)."""
    if dtype != "auto":
        return dtype
    if device == "cpu":
        return "float32"
    if device == "auto":
        if not _torch_gpu_build():
            return "float32"  # a CPU-only torch: "auto" is the CPU (known without importing torch)
        import torch

        if not torch.cuda.is_available():
            return "float32"
    return "auto-accelerator"


def _torch_gpu_build() -> bool:
    """Whether the installed torch was built for CUDA or ROCm, read from ``torch/version.py`` (importing
    torch takes seconds: more than the rest of a run whose every score is cached)."""
    import importlib.util

    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        return False
    try:
        text = (Path(spec.origin).parent / "version.py").read_text()
    except OSError:
        return True  # unknown: ask torch
    builds = re.findall(r"^(?:cuda|hip)\s*(?::[^=]*)?=\s*(.+?)\s*$", text, flags=re.MULTILINE)
    return not builds or any(b != "None" for b in builds)


def description_key(settings_key: str, cfg: RunConfig) -> str:
    """The key of the model description stored with the scores: the settings plus everything else a
    description shows (the model as written, the engine options, the thread setting)."""
    engine = {k: v for k, v in vars(cfg.engine).items() if k not in ("chunk_size", "score_cache")}
    return sha256_json([settings_key, cfg.model, cfg.ref_model, engine, os.environ.get("OMP_NUM_THREADS")])


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def _cached_commit(repo: str, revision: str) -> str | None:
    """The commit ``revision`` of ``repo`` points to in the local Hugging Face hub cache, if any."""
    hub = _hub_cache()
    ref = hub / f"models--{repo.replace('/', '--')}" / "refs" / revision
    try:
        commit = ref.read_text().strip()
    except OSError:
        return None
    return commit if _COMMIT.match(commit) else None


def _hub_cache() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface").expanduser()
    return home / "hub"


def settings_label(cfg: RunConfig) -> Mapping[str, str]:
    """What ``rmbench cache info`` shows for a settings key: the model as written and the kind."""
    return {"model": cfg.model, "kind": cfg.kind}
