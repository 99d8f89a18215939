"""Opening a local data file: compression (``.gz``, ``.zst``) and text encoding.

* **Compression** is recognised by the suffix (``prefs.jsonl.gz``) or by the file's first bytes (a gzip
  or zstd file named ``.jsonl``), and removed transparently. gzip uses the standard library; zstd
  needs the optional ``zstandard`` package (``pip install zstandard``), and its absence is a clear error.
* **Encoding** is UTF-8 unless the file starts with a byte-order mark (UTF-8, as Excel writes CSV, or
  UTF-16/UTF-32), which always wins, or the task declares one (``source.local.encoding: latin-1``, or on
  the command line ``--set source.local.encoding=latin-1``). Bytes that are not valid in that encoding
  are a :class:`~rmbench.errors.RecordError` naming the file and line, with a hint; nothing is replaced
  silently. A file full of NUL bytes without a byte-order mark is reported as probable BOM-less UTF-16.
"""

from __future__ import annotations

import codecs
import gzip
import io
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from rmbench.errors import RecordError, UserError

_MAGIC = {b"\x1f\x8b": "gzip", b"\x28\xb5\x2f\xfd": "zstd"}
_SUFFIX = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd"}
_BOMS = (  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
ENCODING_HINT = (
    "re-save the file as UTF-8, or declare its encoding: 'encoding: latin-1' under source.local in the task "
    "file, or --set source.local.encoding=latin-1 (UTF-16 files need a byte-order mark or encoding: utf-16-le)"
)


def check_encoding(name: str) -> str:
    """``name`` when Python knows the codec, else ``ValueError`` (for the task spec's validator)."""
    try:
        codecs.lookup(name)
    except LookupError:
        raise ValueError(f"unknown text encoding '{name}' (e.g. utf-8, latin-1, cp1252, utf-16)") from None
    return name


def format_suffix(path: Path) -> str:
    """The suffix naming the data format, past any compression suffix: ``a.jsonl.gz`` -> ``.jsonl``."""
    suffixes = [s.lower() for s in path.suffixes]
    while suffixes and suffixes[-1] in _SUFFIX:
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def compression(path: Path) -> str | None:
    """``"gzip"``, ``"zstd"`` or ``None``, from the suffix or else the first bytes."""
    by_suffix = _SUFFIX.get(path.suffix.lower())
    if by_suffix:
        return by_suffix
    with path.open("rb") as f:
        head = f.read(4)
    return next((kind for magic, kind in _MAGIC.items() if head.startswith(magic)), None)


@contextmanager
def open_binary(path: Path) -> Iterator[io.BufferedIOBase | IO[bytes]]:
    """The file's (decompressed) bytes. Errors of a corrupt archive become a :class:`RecordError`."""
    kind = compression(path)
    if kind is None:
        with path.open("rb") as f:
            yield f
        return
    try:
        if kind == "gzip":
            with gzip.open(path, "rb") as f:
                yield f
        else:
            with _zstd_reader(path) as f:
                yield f
    except (EOFError, gzip.BadGzipFile, zlib.error, _ZstdError) as exc:
        raise RecordError(str(path), None, f"cannot decompress the {kind} file ({exc or type(exc).__name__})") from None


class _ZstdError(Exception):
    """Raised for a corrupt .zst file (``zstandard.ZstdError`` re-raised under a name we can catch)."""


@contextmanager
def _zstd_reader(path: Path) -> Iterator[IO[bytes]]:
    try:
        import zstandard
    except ImportError:
        raise UserError(
            f"{path}: reading .zst files needs the optional 'zstandard' package",
            hint="pip install zstandard (or decompress the file: zstd -d FILE)",
        ) from None
    with path.open("rb") as raw:
        reader = zstandard.ZstdDecompressor().stream_reader(raw)
        buffered = io.BufferedReader(reader)  # type: ignore[arg-type]
        try:
            yield buffered
        except zstandard.ZstdError as exc:
            raise _ZstdError(str(exc)) from None


def detect_encoding(head: bytes, declared: str | None) -> str:
    """The codec for a file starting with ``head``: its byte-order mark, else ``declared``, else UTF-8."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    return declared or "utf-8"


@contextmanager
def open_text(path: Path, declared: str | None, newline: str | None = None) -> Iterator[IO[str]]:
    """The file as text (decompressed, byte-order mark removed). A decoding error while reading becomes a
    :class:`RecordError` naming the line of the first bad byte."""
    with open_binary(path) as raw:
        buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[arg-type,type-var]
        head = buffered.peek(4)[:4]
        encoding = detect_encoding(head, declared)
        if encoding == "utf-8" and declared is None and b"\x00" in buffered.peek(4096)[:4096]:
            raise RecordError(
                str(path), None, "the file contains NUL bytes: UTF-16 without a byte-order mark?", hint=ENCODING_HINT
            )
        text = io.TextIOWrapper(buffered, encoding=encoding, errors="strict", newline=newline)
        try:
            yield text
        except UnicodeDecodeError as exc:
            raise decode_error(path, encoding, exc) from None


def decode_error(path: Path, encoding: str, exc: UnicodeDecodeError) -> RecordError:
    """A :class:`RecordError` for the first byte of ``path`` that ``encoding`` cannot decode (the file is
    decoded again in one piece to find its line: this runs once, on the error path)."""
    with open_binary(path) as raw:
        data = raw.read()
    try:
        data.decode(encoding)
    except UnicodeDecodeError as again:
        exc = again
        line: int | None = data[: again.start].decode(encoding, errors="replace").count("\n") + 1
    else:  # pragma: no cover - the stream decoder and bytes.decode disagree
        line = None
    bad = exc.object[exc.start : exc.start + 4]
    return RecordError(
        str(path), line, f"not valid {encoding.upper()} text (bytes {bad.hex(' ')}: {exc.reason})", hint=ENCODING_HINT
    )
