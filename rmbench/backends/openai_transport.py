"""How requests to an OpenAI-compatible server travel: the HTTP client, URLs, retry timing, errors.

Pure helpers of :mod:`rmbench.backends.openai_backend` (which re-exports them): which HTTP client
module to use (``httpx``, else ``httpx2``), the ``/chat/completions`` URL and its credential-free form
for records, the exponential backoff with jitter, the server's ``Retry-After`` / ``retry-after-ms``
wait, which HTTP statuses are worth retrying, and the server's own error message from a body; and
what one request is (:class:`Job`) and how a request that got no answer ends (:class:`Failed`).
"""

from __future__ import annotations

import email.utils
import importlib
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from rmbench.errors import UserError

API_INSTALL_HINT = "pip install 'rmbench[api]'"

_CLIENT_MODULES = ("httpx", "httpx2")


@dataclass(frozen=True)
class Job:
    """One request: POST ``body`` (JSON) to ``url``; ``read(content, attempts)`` turns an HTTP 200
    body into the result, raising ``MalformedResponse`` for a body worth retrying."""

    url: str
    body: dict[str, Any]
    read: Callable[[bytes, int], Any]


@dataclass(frozen=True)
class Failed:
    """A request that got no usable answer: the error as the server gave it (status and message),
    and the attempts made (0: not sent because the server looked down)."""

    error: str
    attempts: int


def import_http_client() -> Any:
    """The ``httpx`` module, else ``httpx2``; :class:`UserError` with the install hint if neither is there."""
    for name in _CLIENT_MODULES:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise UserError(
        "the OpenAI-compatible backend needs the HTTP client httpx, which is not installed",
        hint=API_INSTALL_HINT,
    )


def redact_url(url: str) -> str:
    """``url`` without user, password, query or fragment (which may carry credentials).

    >>> redact_url("https://user:secret@api.example.com:8443/v1/?key=abc")
    'https://api.example.com:8443/v1'
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def chat_completions_url(base_url: str) -> str:
    """``base_url`` + ``/chat/completions``, keeping any query string.

    >>> chat_completions_url("http://127.0.0.1:8000/v1/")
    'http://127.0.0.1:8000/v1/chat/completions'
    """
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/chat/completions", fragment=""))


def backoff_seconds(attempt: int, initial: float, cap: float, rng: random.Random) -> float:
    """Wait after failed attempt ``attempt`` (0-based): ``min(cap, initial * 2**attempt) * U[0.5, 1)``.

    >>> backoff_seconds(3, 1.0, 60.0, random.Random(0)) < 8.0
    True
    """
    return min(cap, initial * 2.0**attempt) * (0.5 + 0.5 * rng.random())


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """The server's requested wait: ``retry-after-ms`` (milliseconds), else ``Retry-After`` as
    seconds or an HTTP date. None when absent or unreadable; never negative.

    >>> retry_after_seconds({"retry-after": "2"})
    2.0
    >>> retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"})
    0.25
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    if "retry-after-ms" in lowered:
        try:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000.0)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def is_retryable_status(status: int) -> bool:
    """429 (rate limited) and 5xx (server trouble) are worth retrying; other 4xx are not."""
    return status == 429 or 500 <= status <= 599


def server_message(body: bytes, limit: int = 500) -> str:
    """The server's error text: ``error.message`` or ``message`` of a JSON body, else the raw body."""
    import json

    text = body.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, Mapping):
        error = data.get("error")
        if isinstance(error, Mapping) and error.get("message"):
            text = str(error["message"])
        elif isinstance(error, str):
            text = error
        elif data.get("message"):
            text = str(data["message"])
        elif data.get("detail"):
            text = str(data["detail"])
    text = " ".join(text.split())
    return (text[: limit - 3] + "...") if len(text) > limit else (text or "(empty body)")
