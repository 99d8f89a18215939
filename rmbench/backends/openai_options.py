"""The settings of :class:`rmbench.backends.openai_backend.OpenAIBackend` and its running totals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from rmbench.backends.openai_transport import redact_url
from rmbench.errors import UserError

MAX_TOP_LOGPROBS = 20
"""The most alternatives per position the OpenAI API returns (``top_logprobs`` 0..20)."""


@dataclass(frozen=True)
class OpenAIOptions:
    """Where and how to send chat completion requests. Times are in seconds.

    ``base_url`` is the API root, usually ending in ``/v1`` (``/chat/completions`` is appended; a
    query string such as ``?api-version=...`` is kept). ``api_key_env`` names the environment
    variable holding the key; when it is unset no ``Authorization`` header is sent (local servers).
    ``timeout_s`` bounds each attempt from sending to the full answer. Attempt ``k`` (0-based) that
    fails with a retryable error waits ``min(backoff_max_s, backoff_initial_s * 2**k)`` times a
    jitter factor in [0.5, 1), or the server's ``Retry-After`` capped at ``retry_after_max_s``.
    ``top_logprobs`` alternatives are asked for on requests with ``choices`` (0 never asks, for
    servers that reject ``logprobs``). ``max_consecutive_failures`` failed requests in a row (after
    their retries) stop the rest of a batch from being sent (0: send everything).
    Reward scoring only: ``tokenizer`` (a local folder or Hub id; default: the model name, which is
    what vLLM serves a model as unless ``--served-model-name`` is given) renders the conversations,
    sequences longer than the server's ``max_model_len`` are cut on ``truncation_side``, and
    ``label_index`` picks the classifier output that is the reward.
    """

    base_url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 8
    max_retries: int = 4
    timeout_s: float = 120.0
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    retry_after_max_s: float = 300.0
    retry_seed: int = 0
    top_logprobs: int = MAX_TOP_LOGPROBS
    max_consecutive_failures: int = 5
    tokenizer: str | None = None
    truncation_side: Literal["left", "right"] = "left"
    label_index: int = 0

    @property
    def tokenizer_source(self) -> str:
        """Where the tokenizer for reward scoring is loaded from: ``tokenizer``, else the model name."""
        return self.tokenizer or self.model

    def __post_init__(self) -> None:
        if urlsplit(self.base_url).scheme not in ("http", "https") or not urlsplit(self.base_url).hostname:
            raise UserError(
                f"base URL must be an http(s) URL, got '{redact_url(self.base_url)}'",
                hint="for example http://127.0.0.1:8000/v1 or https://api.openai.com/v1",
            )
        if not self.model:
            raise UserError("an OpenAI-compatible backend needs a model name")
        if self.concurrency < 1:
            raise UserError(f"concurrency must be at least 1, got {self.concurrency}")
        if self.max_retries < 0:
            raise UserError(f"max_retries must be 0 or more, got {self.max_retries}")
        if self.max_consecutive_failures < 0:
            raise UserError(f"max_consecutive_failures must be 0 or more, got {self.max_consecutive_failures}")
        for name in ("timeout_s", "backoff_initial_s", "backoff_max_s", "retry_after_max_s"):
            if not getattr(self, name) > 0:
                raise UserError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0 <= self.top_logprobs <= MAX_TOP_LOGPROBS:
            raise UserError(f"top_logprobs must be in 0..{MAX_TOP_LOGPROBS}, got {self.top_logprobs}")


@dataclass
class ApiStats:
    """Running totals since the backend was built: requests asked for, HTTP attempts made, retries,
    requests that ended as error generations, and wall-clock seconds spent in :meth:`generate`."""

    requests: int = 0
    attempts: int = 0
    retries: int = 0
    failed: int = 0
    seconds: float = 0.0
