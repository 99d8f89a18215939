"""Where a model comes from and how to fingerprint it, without importing torch.

* :func:`locate_model`: a local folder or a Hub id; a path-looking string that does not exist is
  refused with a message naming it.
* :func:`weights_digest`, :func:`tokenizer_digest`: short sha256 fingerprints recorded in run
  summaries, so two runs can prove they used the same weights and tokenizer.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from rmbench.errors import UserError

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")


def locate_model(model: str) -> tuple[str, bool]:
    """(path or Hub id, is_local). A string that exists is a local folder; one that looks like a path
    (``/``, ``.``, ``~``, or more than one ``/``) but does not exist is refused with a clear message."""
    path = Path(model).expanduser()
    if path.exists():
        if not path.is_dir():
            raise UserError(f"model path is not a folder: {path}", hint="pass the folder holding config.json")
        return str(path), True
    if model.startswith(("/", ".", "~")) or model.count("/") > 1 or "\\" in model:
        raise UserError(
            f"model folder not found: {path}",
            hint="check the path; a Hugging Face Hub id looks like 'org/name'",
        )
    return model, False


def sha256_hex(data: str | bytes) -> str:
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def weights_digest(folder: Path) -> str | None:
    """sha256 over the folder's weight files (names and bytes, sorted), first 16 hex; None if none."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(_WEIGHT_SUFFIXES))
    if not files:
        return None
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 24):
                digest.update(chunk)
    return digest.hexdigest()[:16]


def tokenizer_digest(tokenizer: Any) -> str:
    """sha256 (16 hex) of the full fast-tokenizer definition, else of the vocabulary and special tokens."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        text = backend.to_str()
    else:
        text = json.dumps([sorted(tokenizer.get_vocab().items()), tokenizer.all_special_tokens])
    return sha256_hex(text)[:16]


def parse_model(model: str) -> tuple[str, str | None]:
    """(local folder or Hub id, revision). ``embedded:ALIAS`` resolves to its converted folder;
    ``id@rev`` splits off the revision unless the whole string is an existing path.

    >>> parse_model("org/name@v1.0")
    ('org/name', 'v1.0')
    """
    if model.startswith("embedded:"):
        from rmbench.backends.embedded import resolve_embedded

        return str(resolve_embedded(model.removeprefix("embedded:"))), None
    if "@" in model and not Path(model).expanduser().exists():
        name, _, revision = model.rpartition("@")
        if not name or not revision:
            raise UserError(f"cannot read model '{model}'", hint="write a Hub id with a revision as org/name@revision")
        return name, revision
    return model, None
