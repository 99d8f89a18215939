"""Reward-model scores from vLLM's OpenAI-compatible server: ``POST /classify`` with token ids.

A reward model served with vLLM's pooling runner (``python -m vllm.entrypoints.openai.api_server
--model DIR --runner pooling``) answers ``POST /classify`` (at the server root, beside ``/v1``;
``/v1`` at the end of the base URL is dropped). What is sent, per example (one request per example,
so an item either has all its scores or is an error item)::

    {"model": NAME, "input": [[ids of response 1], [ids of response 2], ...], "use_activation": false}

The **token ids** are rendered here, by the same :class:`rmbench.adapters.chat.ChatRenderer` the
transformers backend's scalar adapter uses (chat template rendered to text, tokenized in one go
without extra special tokens, a doubled BOS dropped), with the tokenizer loaded locally from
:attr:`~rmbench.backends.openai_backend.OpenAIOptions.tokenizer_source`. The server therefore reads
exactly the tokens transformers would read: it neither applies a chat template nor tokenizes (token
inputs are passed to the engine as they are). ``use_activation: false`` asks for the classifier's
raw outputs (no sigmoid or softmax), so the score equals transformers' logit. Sequences longer than
the server's ``max_model_len`` (read once from ``GET /v1/models``) are cut here on the configured side.

The answer is ``{"data": [{"index": i, "probs": [float, ...], ...}, ...], "model": NAME}``; the
score is ``probs[label_index]``. Requests go through the backend's retry policy
(:meth:`rmbench.backends.openai_backend.OpenAIBackend.post_all`): a request that still fails is
:class:`~rmbench.backends.openai_transport.Failed` -- an error, never a score.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from rmbench.backends.batching import truncate
from rmbench.backends.openai_response import MalformedResponse
from rmbench.backends.openai_transport import Failed, Job, redact_url, server_message
from rmbench.errors import UserError


def server_root_url(base_url: str, route: str) -> str:
    """``route`` at the server root: ``base_url`` without a trailing ``/v1``, plus ``route``.

    >>> server_root_url("http://127.0.0.1:8000/v1/", "/classify")
    'http://127.0.0.1:8000/classify'
    >>> server_root_url("http://host/proxy/v1?x=1", "/classify")
    'http://host/proxy/classify?x=1'
    """
    parts = urlsplit(base_url)
    path = parts.path.rstrip("/").removesuffix("/v1")
    return urlunsplit(parts._replace(path=path + route, fragment=""))


def models_url(base_url: str) -> str:
    """``base_url`` + ``/models`` (query kept)."""
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/models", fragment=""))


def classify_payload(model: str, seqs: Sequence[Sequence[int]]) -> dict[str, Any]:
    """The ``/classify`` body for token sequences, asking for raw outputs (no activation)."""
    return {"model": model, "input": [list(s) for s in seqs], "use_activation": False}


def read_classify(content: bytes, n: int, label_index: int) -> tuple[list[float], str | None]:
    """(score per input in input order, the model id the server named) from a ``/classify`` body.

    Raises :class:`MalformedResponse` for a body without ``n`` numeric results (retried), and
    :class:`UserError` when ``label_index`` is outside the classifier's outputs (retrying cannot help).
    """
    try:
        data = json.loads(content)
    except ValueError as exc:
        raise MalformedResponse(f"not JSON ({exc})") from None
    rows = data.get("data") if isinstance(data, Mapping) else None
    if not isinstance(rows, list) or len(rows) != n:
        raise MalformedResponse(f"expected 'data' with {n} results, got {type(rows).__name__}"
                                + (f" of {len(rows)}" if isinstance(rows, list) else ""))
    scores: list[float | None] = [None] * n
    for row in rows:
        index = row.get("index") if isinstance(row, Mapping) else None
        probs = row.get("probs") if isinstance(row, Mapping) else None
        if type(index) is not int or not 0 <= index < n or scores[index] is not None:
            raise MalformedResponse(f"result index {index!r} is not one of 0..{n - 1} (once each)")
        if not isinstance(probs, list) or not all(type(p) in (int, float) for p in probs):
            raise MalformedResponse(f"result {index}: 'probs' is not a list of numbers")
        if not 0 <= label_index < len(probs):
            raise UserError(f"label_index {label_index} is outside the served classifier's {len(probs)} outputs")
        scores[index] = float(probs[label_index])
    model = data.get("model")
    return [float(s) for s in scores if s is not None], model if isinstance(model, str) else None


class ClassifyScores:
    """The ``sequence_scores`` side of one :class:`OpenAIBackend` (built with it; no request until used)."""

    def __init__(self, backend: Any) -> None:  # the OpenAIBackend that builds this (it imports this module)
        self.backend = backend
        self.url = server_root_url(backend.options.base_url, "/classify")
        self.used = False
        self.truncated = 0
        self._tokenizer: Any = None
        self._max_length: int | None = None

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            from rmbench.backends.model_source import parse_model

            source, revision = parse_model(self.backend.options.tokenizer_source)
            self._tokenizer = AutoTokenizer.from_pretrained(source, revision=revision)
        return self._tokenizer

    @property
    def max_length(self) -> int:
        if self._max_length is None:
            self._max_length = self._ask_max_model_len()
            self.used = True  # described from now on (the adapter describes itself before scoring)
        return self._max_length

    def results(self, groups: Sequence[Sequence[Sequence[int]]]) -> list[list[float] | Failed]:
        """Per group, its raw scores in order, or :class:`Failed`; one request per non-empty group."""
        self.used = True
        o = self.backend.options
        jobs, where = [], []
        for g, seqs in enumerate(groups):
            if not seqs:
                continue
            kept = []
            for seq in seqs:
                if not seq:
                    raise ValueError("cannot score an empty token sequence")
                ids, cut = truncate(seq, self.max_length, o.truncation_side)
                self.truncated += bool(cut)
                kept.append(ids)
            jobs.append(Job(self.url, classify_payload(o.model, kept), self._reader(len(kept))))
            where.append(g)
        out: list[list[float] | Failed] = [[] for _ in groups]
        for g, result in zip(where, self.backend.post_all(jobs), strict=True):
            if not isinstance(result, Failed):
                scores, server_model = result
                self.backend.note_server_model(server_model)
                result = scores
            out[g] = result
        return out

    def describe(self) -> dict[str, Any]:
        """Endpoint, what is sent, tokenizer, length limit and truncation (for the run summary)."""
        from rmbench.backends.model_source import tokenizer_digest

        o = self.backend.options
        return {
            "endpoint": redact_url(self.url),
            "input": "token ids rendered locally with the model's chat template (server applies none)",
            "activation": "none (use_activation: false): raw classifier outputs",
            "tokenizer": o.tokenizer_source,
            "tokenizer_sha256": tokenizer_digest(self.tokenizer) if self._tokenizer is not None else None,
            "max_length": self._max_length,
            "truncation_side": o.truncation_side,
            "label_index": o.label_index,
            "truncated_sequences": self.truncated,
        }

    def _reader(self, n: int) -> Any:
        label = self.backend.options.label_index

        def read(content: bytes, attempts: int) -> tuple[list[float], str | None]:
            return read_classify(content, n, label)

        return read

    def _ask_max_model_len(self) -> int:
        """``max_model_len`` of the served model from ``GET /models``; :class:`UserError` when the
        server cannot be reached, does not serve the model, or does not say (not a vLLM server)."""
        o, http = self.backend.options, self.backend._http
        url = models_url(o.base_url)
        where = redact_url(url)
        try:
            response = http.get(url, headers=self.backend.headers(), timeout=o.timeout_s)
        except http.HTTPError as exc:
            raise UserError(f"cannot reach {where}: {type(exc).__name__}: {exc}",
                            hint="start the server first, or check --api-base") from None
        if response.status_code != 200:
            raise self.backend.client_error(response.status_code, server_message(response.content))
        try:
            models = {m["id"]: m for m in json.loads(response.content)["data"]}
        except (ValueError, KeyError, TypeError):
            raise UserError(f"{where} did not list its models") from None
        if o.model not in models:
            raise UserError(f"{where} does not serve the model '{o.model}'; it serves: {', '.join(map(str, models))}",
                            hint="pass the served model name as --model")
        limit = models[o.model].get("max_model_len")
        if type(limit) is not int or limit < 1:
            raise UserError(f"{where} does not report max_model_len for '{o.model}'",
                            hint="reward scoring through an API needs vLLM's server (its /classify endpoint)")
        return limit
