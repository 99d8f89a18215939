"""Generate through an OpenAI-compatible chat completions server (OpenAI, vLLM's server, others).

Requests go out concurrently (asyncio with an ``httpx.AsyncClient``, at most ``concurrency`` in
flight) and come back in the caller's order; :meth:`OpenAIBackend.generate` is synchronous and runs
its own event loop. Failures are handled by kind:

- HTTP 429, HTTP 5xx, connection errors, timeouts and malformed HTTP 200 bodies (not JSON, or odd
  types: see :mod:`rmbench.backends.openai_response`) are retried up to ``max_retries`` times with
  exponential backoff and jitter (``Retry-After`` / ``retry-after-ms`` honoured when sent). The jitter
  of request ``i`` comes from ``random.Random(f"{retry_seed}:{i}")``, so waits do not depend on
  scheduling. A request that still fails becomes ``Generation(finish_reason="error", error=...)``
  whose ``error`` keeps the server's status and message: it is never dropped and never a verdict;
  the judge records it as a backend error (see :mod:`rmbench.results.item_errors`).
- After ``max_consecutive_failures`` requests in a row have failed (0: never), the server is taken
  to be down: requests of the same :meth:`OpenAIBackend.generate` call that have not started are
  not sent and come back as errors carrying the last server message, so an outage ends a batch in
  seconds instead of retrying every request.
- Any other HTTP 4xx (bad request, unknown model, missing key) raises :class:`UserError` naming the
  status and the server's own message: retrying cannot help, and every later request would fail alike.

Verdict probabilities: when a request has ``choices`` the backend asks for ``logprobs: true,
top_logprobs: N`` and maps each choice to the log-probability of its first token at the FIRST
generated position (see :func:`match_choice_logprobs`). Servers that send no log-probs give ``choice_logprobs=None``.

The API key is read from an environment variable (default ``OPENAI_API_KEY``) when requests are
sent; it is never stored on the backend, logged, or put in :meth:`OpenAIBackend.describe`.
Chat servers give no reward scores or prompt log-probabilities: ``sequence_scores`` and
``token_logprobs`` raise :class:`BackendRefused`.

The HTTP client is ``httpx`` (the ``api`` extra); its API-compatible successor ``httpx2``, which
huggingface_hub 2 installs, is used when ``httpx`` itself is absent. Neither is imported until a
backend is built.
The HTTP client lookup, URLs, backoff and ``Retry-After`` timing and server error messages live in
:mod:`rmbench.backends.openai_transport`; reading an HTTP 200 body lives in
:mod:`rmbench.backends.openai_response`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from rmbench.backends import Capability, Generation, GenerationRequest
from rmbench.backends.openai_response import (  # noqa: F401  (re-exported: part of this module's API)
    MalformedResponse,
    first_token_candidates,
    match_choice_logprobs,
    read_completion,
)
from rmbench.backends.openai_transport import (  # noqa: F401  (re-exported: part of this module's API)
    API_INSTALL_HINT,
    backoff_seconds,
    chat_completions_url,
    import_http_client,
    is_retryable_status,
    redact_url,
    retry_after_seconds,
    server_message,
)
from rmbench.errors import BackendRefused, UserError

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



class OpenAIBackend:
    """A model behind an OpenAI-compatible ``/chat/completions`` endpoint.

    Only :meth:`generate` works; the server applies the chat template. Building the backend checks
    that an HTTP client is installed; no request is sent until :meth:`generate`.
    """

    name = "openai"
    capabilities: frozenset[Capability] = frozenset({"generation"})

    def __init__(self, options: OpenAIOptions) -> None:
        self.options = options
        self._http = import_http_client()
        self._url = chat_completions_url(options.base_url)
        self._server_models: set[str] = set()
        self._consecutive_failures = 0
        self._last_failure = ""
        self.stats = ApiStats()

    # ------------------------------------------------------------------------------ public
    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """One :class:`Generation` per request, in request order (blocking).

        Raises :class:`UserError` on a non-retryable HTTP 4xx; every other failure after the
        retries is returned as an error generation. Works inside a running event loop too (the
        requests then run on a helper thread).
        """
        reqs = list(requests)
        if not reqs:
            return []
        if any(r.assistant_prefix for r in reqs):
            raise BackendRefused(
                "an OpenAI-compatible chat server cannot continue a started assistant reply (assistant_prefix)",
                hint="generate with --backend transformers or vllm, or bring the generations as a file",
            )
        started = time.perf_counter()
        self._consecutive_failures = 0  # each batch gives the server a fresh chance
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            results = asyncio.run(self._generate_all(reqs))
        else:
            with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
                results = pool.submit(asyncio.run, self._generate_all(reqs)).result()
        self.stats.seconds += time.perf_counter() - started
        return results

    def sequence_scores(self, seqs: Sequence[Sequence[int]]) -> list[float]:
        """Refused: chat completion servers return text, not reward scores."""
        raise BackendRefused(
            "the OpenAI-compatible backend cannot score sequences: chat servers return text, not "
            "reward-model scores",
            hint="run reward models with the transformers or vLLM backend",
        )

    def token_logprobs(self, seqs: Sequence[Sequence[int]], starts: Sequence[int]) -> list[list[float]]:
        """Refused: chat completion servers give no log-probabilities of given (prompt) tokens."""
        raise BackendRefused(
            "the OpenAI-compatible backend cannot give log-probabilities of given tokens: chat "
            "servers report them only for tokens they generate",
            hint="run likelihood scoring with the transformers or vLLM backend",
        )

    def describe(self) -> dict[str, Any]:
        """Endpoint (without credentials), model names, concurrency, retry policy and totals.

        ``server_model`` is the model id the server reported in its responses (None before any).
        The API key itself never appears; ``api_key_env`` is only the variable's name.
        """
        o = self.options
        models = sorted(self._server_models)
        return {
            "backend": self.name,
            "base_url": redact_url(o.base_url),
            "model": o.model,
            "server_model": models[0] if len(models) == 1 else (models or None),
            "api_key_env": o.api_key_env,
            "concurrency": o.concurrency,
            "timeout_s": o.timeout_s,
            "retries": {
                "max_retries": o.max_retries,
                "retry_on": "HTTP 429, HTTP 5xx, connection errors, timeouts, malformed HTTP 200 bodies",
                "backoff_initial_s": o.backoff_initial_s,
                "backoff_max_s": o.backoff_max_s,
                "jitter": "x U[0.5, 1), seeded per request",
                "retry_after_max_s": o.retry_after_max_s,
                "seed": o.retry_seed,
                "max_consecutive_failures": o.max_consecutive_failures,
            },
            "top_logprobs": o.top_logprobs,
            "http_client": f"{self._http.__name__} {getattr(self._http, '__version__', '?')}",
            "stats": asdict(self.stats),
        }

    # --------------------------------------------------------------------------- internals
    def _headers(self) -> dict[str, str]:
        from rmbench import __version__

        headers = {"User-Agent": f"rmbench/{__version__}", "Accept": "application/json"}
        key = os.environ.get(self.options.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def payload(self, request: GenerationRequest) -> dict[str, Any]:
        """The JSON body for one request (public so adapters and tests can see the mapping)."""
        body: dict[str, Any] = {
            "model": self.options.model,
            "messages": [dict(m) for m in request.messages],
            "max_tokens": request.max_new_tokens,
            "temperature": request.temperature,
            "n": 1,
        }
        if request.seed is not None:
            body["seed"] = request.seed
        if request.stop:
            body["stop"] = list(request.stop)
        if request.choices and self.options.top_logprobs > 0:
            body["logprobs"] = True
            body["top_logprobs"] = self.options.top_logprobs
        return body

    async def _generate_all(self, reqs: list[GenerationRequest]) -> list[Generation]:
        http = self._http
        limit = self.options.concurrency
        semaphore = asyncio.Semaphore(limit)
        client = http.AsyncClient(
            headers=self._headers(),
            timeout=http.Timeout(self.options.timeout_s),
            limits=http.Limits(max_connections=limit, max_keepalive_connections=limit),
        )
        async with client:
            tasks = [asyncio.ensure_future(self._one(client, semaphore, i, r)) for i, r in enumerate(reqs)]
            try:
                return list(await asyncio.gather(*tasks))
            except BaseException:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise

    async def _one(
        self, client: Any, semaphore: asyncio.Semaphore, index: int, request: GenerationRequest
    ) -> Generation:
        o, http = self.options, self._http
        body = self.payload(request)
        rng = random.Random(f"{o.retry_seed}:{index}")
        self.stats.requests += 1
        error = ""
        for attempt in range(o.max_retries + 1):
            wait: float | None = None
            async with semaphore:
                if self._server_down():
                    return self._not_sent(error if attempt else "")
                self.stats.attempts += 1
                try:
                    response = await asyncio.wait_for(client.post(self._url, json=body), o.timeout_s)
                except (http.TransportError, asyncio.TimeoutError) as exc:
                    kind = (
                        "timeout"
                        if isinstance(exc, asyncio.TimeoutError | http.TimeoutException)
                        else "connection error"
                    )
                    error = f"{kind} ({type(exc).__name__}{': ' + str(exc) if str(exc) else ''})"
                else:
                    status = response.status_code
                    if status == 200:
                        try:
                            gen = read_completion(response.content, request.choices, attempt + 1)
                        except MalformedResponse as exc:
                            error = f"malformed response (HTTP 200): {exc}; body: {server_message(response.content, 200)}"
                        else:
                            self._record_success(gen)
                            return gen
                    else:
                        message = server_message(response.content)
                        if not is_retryable_status(status):
                            raise self._client_error(status, message)
                        error = f"HTTP {status}: {message}"
                        wait = retry_after_seconds(response.headers)
            if attempt < o.max_retries:
                self.stats.retries += 1
                if wait is None:
                    wait = backoff_seconds(attempt, o.backoff_initial_s, o.backoff_max_s, rng)
                await asyncio.sleep(min(wait, o.retry_after_max_s))
        attempts = o.max_retries + 1
        error = f"{error} (gave up after {attempts} attempt{'s' if attempts > 1 else ''})"
        self._record_failure(error)
        return Generation(text="", finish_reason="error", error=error, extra={"attempts": attempts})

    def _server_down(self) -> bool:
        limit = self.options.max_consecutive_failures
        return limit > 0 and self._consecutive_failures >= limit

    def _not_sent(self, own_error: str) -> Generation:
        """An error for a request left (or no longer retried) because the server looks down."""
        self.stats.failed += 1
        n = self._consecutive_failures
        what = f"{own_error}; not retried" if own_error else "not sent"
        return Generation(
            text="", finish_reason="error", extra={"attempts": 0},
            error=f"{what}: the server failed {n} requests in a row; last: {self._last_failure}",
        )

    def _record_success(self, gen: Generation) -> None:
        self._consecutive_failures = 0
        server_model = gen.extra.get("server_model")
        if isinstance(server_model, str):
            self._server_models.add(server_model)

    def _record_failure(self, error: str) -> None:
        self.stats.failed += 1
        self._consecutive_failures += 1
        self._last_failure = error

    def _client_error(self, status: int, message: str) -> UserError:
        o = self.options
        where = f"{redact_url(o.base_url)} (model '{o.model}')"
        hint = None
        if status in (401, 403):
            hint = (
                f"check the API key in ${o.api_key_env}"
                if os.environ.get(o.api_key_env)
                else f"set the API key in the environment variable {o.api_key_env}"
            )
        elif status == 404:
            hint = "check the base URL (it usually ends in /v1) and the model name the server serves"
        elif "logprob" in message.lower():
            hint = "this server rejects log-prob requests: set top_logprobs to 0"
        return UserError(f"HTTP {status} from {where}: {message}", hint=hint)
