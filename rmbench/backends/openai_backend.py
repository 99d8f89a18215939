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
Reward scores (``sequence_scores``) come from a vLLM server's ``/classify`` endpoint, with the same
retries and error handling: see :mod:`rmbench.backends.openai_scores`. Chat servers give no
log-probabilities of given tokens: ``token_logprobs`` raises :class:`BackendRefused`.

The HTTP client is ``httpx`` (the ``api`` extra); its API-compatible successor ``httpx2``, which
huggingface_hub 2 installs, is used when ``httpx`` itself is absent. Neither is imported until a
backend is built.
The options live in :mod:`rmbench.backends.openai_options`; the HTTP client lookup, URLs, backoff and ``Retry-After`` timing and server error messages live in
:mod:`rmbench.backends.openai_transport`; reading an HTTP 200 body lives in
:mod:`rmbench.backends.openai_response`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from rmbench.backends import Capability, Generation, GenerationRequest
from rmbench.backends.openai_options import (  # noqa: F401  (re-exported: part of this module's API)
    MAX_TOP_LOGPROBS,
    ApiStats,
    OpenAIOptions,
)
from rmbench.backends.openai_response import (  # noqa: F401  (re-exported: part of this module's API)
    MalformedResponse,
    first_token_candidates,
    match_choice_logprobs,
    read_completion,
)
from rmbench.backends.openai_transport import (  # noqa: F401  (re-exported: part of this module's API)
    API_INSTALL_HINT,
    Failed,
    Job,
    backoff_seconds,
    chat_completions_url,
    import_http_client,
    is_retryable_status,
    redact_url,
    retry_after_seconds,
    server_message,
)
from rmbench.errors import BackendRefused, UserError


class OpenAIBackend:
    """A model behind an OpenAI-compatible ``/chat/completions`` endpoint.

    :meth:`generate` sends chat requests (the server applies the chat template);
    :meth:`sequence_scores` sends token ids to vLLM's ``/classify``. Building the backend checks that
    an HTTP client is installed; no request is sent until one of them (or :meth:`prepare`) is called.
    """

    name = "openai"
    capabilities: frozenset[Capability] = frozenset({"generation", "sequence_scores"})

    def __init__(self, options: OpenAIOptions) -> None:
        self.options = options
        self._http = import_http_client()
        self._url = chat_completions_url(options.base_url)
        self._server_models: set[str] = set()
        self._consecutive_failures = 0
        self._last_failure = ""
        self.stats = ApiStats()
        from rmbench.backends.openai_scores import ClassifyScores

        self.scores = ClassifyScores(self)

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
        jobs = [Job(self._url, self.payload(r), _completion_reader(r.choices)) for r in reqs]
        out = []
        for result in self.post_all(jobs):
            if isinstance(result, Failed):
                result = Generation(text="", finish_reason="error", error=result.error,
                                    extra={"attempts": result.attempts})
            else:
                self.note_server_model(result.extra.get("server_model"))
            out.append(result)
        return out

    def post_all(self, jobs: Sequence[Job]) -> list[Any]:
        """POST every job's body concurrently with the retry policy; per job, in order, what its
        ``read`` returned, or :class:`Failed` (blocking; works inside a running event loop too).

        Raises :class:`UserError` on a non-retryable HTTP 4xx (and whatever ``read`` raises other
        than :class:`MalformedResponse`, which is retried).
        """
        if not jobs:
            return []
        started = time.perf_counter()
        self._consecutive_failures = 0  # each batch gives the server a fresh chance
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            results = asyncio.run(self._post_all(list(jobs)))
        else:
            with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
                results = pool.submit(asyncio.run, self._post_all(list(jobs))).result()
        self.stats.seconds += time.perf_counter() - started
        return results

    # ------------------------------------------------------- reward scores (POST /classify)
    @property
    def tokenizer(self) -> Any:
        """The model's tokenizer, loaded locally from :attr:`OpenAIOptions.tokenizer_source`."""
        return self.scores.tokenizer

    @property
    def max_length(self) -> int:
        """The server's ``max_model_len`` for the model (asked once, from ``GET /models``)."""
        return self.scores.max_length

    def prepare(self, capability: Capability) -> None:
        """Before scoring: check the server serves the model and learn its length limit."""
        if capability == "sequence_scores":
            self.scores.max_length  # noqa: B018 - asks the server once

    def sequence_scores(self, seqs: Sequence[Sequence[int]]) -> list[float]:
        """One raw reward score per token sequence (see :mod:`rmbench.backends.openai_scores`)."""
        return [s for g in self.sequence_scores_grouped([[s] for s in seqs]) for s in g]

    def sequence_scores_grouped(self, groups: Sequence[Sequence[Sequence[int]]]) -> list[list[float]]:
        """:meth:`sequence_score_results` where every group must succeed: a failed request raises
        :class:`UserError` with the server's message (a failure is never a score)."""
        out = []
        for result in self.scores.results(groups):
            if isinstance(result, Failed):
                raise UserError(f"scoring through {redact_url(self.options.base_url)} failed: {result.error}")
            out.append(result)
        return out

    def sequence_score_results(self, groups: Sequence[Sequence[Sequence[int]]]) -> list[list[float] | Failed]:
        """Per group (one HTTP request each, retried as generation is): its scores, or :class:`Failed`."""
        return self.scores.results(groups)

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
            **({"scoring": self.scores.describe()} if self.scores.used else {}),
        }

    # --------------------------------------------------------------------------- internals
    def headers(self) -> dict[str, str]:
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

    async def _post_all(self, jobs: list[Job]) -> list[Any]:
        http = self._http
        limit = self.options.concurrency
        semaphore = asyncio.Semaphore(limit)
        client = http.AsyncClient(
            headers=self.headers(),
            timeout=http.Timeout(self.options.timeout_s),
            limits=http.Limits(max_connections=limit, max_keepalive_connections=limit),
        )
        async with client:
            tasks = [asyncio.ensure_future(self._post(client, semaphore, i, job)) for i, job in enumerate(jobs)]
            try:
                return list(await asyncio.gather(*tasks))
            except BaseException:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise

    async def _post(self, client: Any, semaphore: asyncio.Semaphore, index: int, job: Job) -> Any:
        o, http = self.options, self._http
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
                    response = await asyncio.wait_for(client.post(job.url, json=job.body), o.timeout_s)
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
                            result = job.read(response.content, attempt + 1)
                        except MalformedResponse as exc:
                            error = f"malformed response (HTTP 200): {exc}; body: {server_message(response.content, 200)}"
                        else:
                            self._consecutive_failures = 0
                            return result
                    else:
                        message = server_message(response.content)
                        if not is_retryable_status(status):
                            raise self.client_error(status, message)
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
        return Failed(error=error, attempts=attempts)

    def _server_down(self) -> bool:
        limit = self.options.max_consecutive_failures
        return limit > 0 and self._consecutive_failures >= limit

    def _not_sent(self, own_error: str) -> Failed:
        """An error for a request left (or no longer retried) because the server looks down."""
        self.stats.failed += 1
        n = self._consecutive_failures
        what = f"{own_error}; not retried" if own_error else "not sent"
        return Failed(f"{what}: the server failed {n} requests in a row; last: {self._last_failure}", attempts=0)

    def note_server_model(self, server_model: Any) -> None:
        """Remember the model id a server named in a successful response (for :meth:`describe`)."""
        if isinstance(server_model, str):
            self._server_models.add(server_model)

    def _record_failure(self, error: str) -> None:
        self.stats.failed += 1
        self._consecutive_failures += 1
        self._last_failure = error

    def client_error(self, status: int, message: str) -> UserError:
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


def _completion_reader(choices: Sequence[str]) -> Callable[[bytes, int], Generation]:
    def read(content: bytes, attempts: int) -> Generation:
        return read_completion(content, choices, attempts)

    return read
