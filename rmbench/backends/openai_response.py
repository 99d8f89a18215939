"""Read one OpenAI-compatible chat completion body into a :class:`~rmbench.backends.Generation`.

Servers differ (OpenAI, vLLM, proxies, half-broken gateways), so every field is checked for its
type before use. What is accepted:

- ``choices``: a non-empty list whose first element is an object with a ``message`` object;
- ``message.content``: a string, ``null`` (read as ""), or a list of content parts whose ``text``
  parts are joined (``{"type": "text", "text": "..."}``; other part types are skipped);
- ``finish_reason``: a string or ``null``; ``usage``: an object or ``null`` whose token counts are
  whole numbers or ``null``; ``model``: anything (kept only when a string).

Anything else raises :class:`MalformedResponse` naming the field, which the backend retries like
a server error and finally reports as an error generation, never a traceback or a verdict.

Verdict probabilities: :func:`first_token_candidates` reads the first generated position's
log-probs and :func:`match_choice_logprobs` maps them to the requested choices.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from rmbench.backends import Generation


class MalformedResponse(ValueError):
    """An HTTP 200 body that is not a usable chat completion (the message names the field)."""


def match_choice_logprobs(candidates: Mapping[str, float], choices: Sequence[str]) -> dict[str, float]:
    """Log-probability of each choice's first token among the tokens reported at one position.

    ``candidates`` maps decoded token text to its natural-log probability (the top alternatives at
    the first generated position). Without the server's tokenizer, "the first token of the choice"
    is approximated as: the candidate equal to the choice, else the longest candidate that is a
    non-empty prefix of it (``"YES"`` -> ``"Y"`` if the model splits it so). This is the rule of the
    local backends (log-prob of the first token of the choice encoded without special tokens), so
    whitespace variants (``" A"``) do not count for ``"A"``. Matching is case-sensitive. Choices
    with no match are left out: their log-probability is below the smallest one reported.

    >>> match_choice_logprobs({"A": -0.5, " A": -2.0, "Y": -1.5}, ["A", "YES", "C"])
    {'A': -0.5, 'YES': -1.5}
    """
    out: dict[str, float] = {}
    for choice in choices:
        if choice in candidates:
            out[choice] = float(candidates[choice])
            continue
        prefixes = [token for token in candidates if token and choice.startswith(token)]
        if prefixes:
            out[choice] = float(candidates[max(prefixes, key=len)])
    return out


def first_token_candidates(choice: Mapping[str, Any]) -> dict[str, float] | None:
    """Token text -> log-prob at the first generated position of one response choice (the sampled
    token and its ``top_logprobs``); None when the server sent no (readable) log-probs."""
    logprobs = choice.get("logprobs")
    content = logprobs.get("content") if isinstance(logprobs, Mapping) else None
    if not isinstance(content, list) or not content or not isinstance(content[0], Mapping):
        return None
    first = content[0]
    alternatives = first.get("top_logprobs")
    entries = [first, *(alternatives if isinstance(alternatives, list) else [])]
    out: dict[str, float] = {}
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        token, lp = entry.get("token"), entry.get("logprob")
        if isinstance(token, str) and isinstance(lp, int | float) and not isinstance(lp, bool) and math.isfinite(lp):
            out[token] = max(float(lp), out.get(token, -math.inf))
    return out or None


def message_text(content: Any) -> str:
    """``message.content`` as text: a string, ``null`` -> "", or the joined text of content parts.

    >>> message_text([{"type": "text", "text": "Verdict: "}, {"type": "text", "text": "A"}])
    'Verdict: A'
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, Mapping) and part.get("type", "text") in ("text", "output_text"):
                text = part.get("text")
                if not isinstance(text, str):
                    raise MalformedResponse(f"choices[0].message.content: a text part without a string 'text' ({part!r:.80})")
                texts.append(text)
            elif not isinstance(part, Mapping):
                raise MalformedResponse(f"choices[0].message.content: a part is {type(part).__name__}, not an object")
        return "".join(texts)
    raise MalformedResponse(f"choices[0].message.content is {type(content).__name__}, not a string or a list of parts")


def _token_count(usage: Mapping[str, Any], key: str) -> int:
    value = usage.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise MalformedResponse(f"usage.{key} is {value!r:.40}, not a token count")
    return int(value)


def _first_choice(data: Any) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    if not isinstance(data, Mapping):
        raise MalformedResponse(f"the body is not a JSON object but {type(data).__name__}")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        raise MalformedResponse(f"choices is {choices!r:.60}, not a non-empty list")
    choice = choices[0]
    if not isinstance(choice, Mapping):
        raise MalformedResponse(f"choices[0] is {type(choice).__name__}, not an object")
    message = choice.get("message")
    if not isinstance(message, Mapping):
        raise MalformedResponse(f"choices[0].message is {message!r:.60}, not an object")
    return choice, message


def read_completion(content: bytes, choices: Sequence[str], attempts: int) -> Generation:
    """The generation in one chat completion body; :class:`MalformedResponse` when it is not one."""
    try:
        data = json.loads(content)
    except ValueError:
        raise MalformedResponse("the body is not JSON") from None
    choice, message = _first_choice(data)
    text = message_text(message.get("content"))
    raw_reason = choice.get("finish_reason")
    if raw_reason is not None and not isinstance(raw_reason, str):
        raise MalformedResponse(f"choices[0].finish_reason is {raw_reason!r:.40}, not a string")
    raw_reason = raw_reason or "stop"
    usage = data.get("usage")
    if usage is None:
        usage = {}
    if not isinstance(usage, Mapping):
        raise MalformedResponse(f"usage is {usage!r:.40}, not an object")
    server_model = data.get("model")
    extra: dict[str, Any] = {"attempts": attempts, "server_model": server_model if isinstance(server_model, str) else None}
    if raw_reason not in ("stop", "length"):
        extra["finish_reason_raw"] = raw_reason
    choice_logprobs = None
    if choices:
        candidates = first_token_candidates(choice)
        if candidates is not None:
            choice_logprobs = match_choice_logprobs(candidates, choices)
            extra["first_token_logprob_floor"] = min(candidates.values())
    return Generation(
        text=text,
        finish_reason="length" if raw_reason == "length" else "stop",
        prompt_tokens=_token_count(usage, "prompt_tokens"),
        completion_tokens=_token_count(usage, "completion_tokens"),
        choice_logprobs=choice_logprobs,
        extra=extra,
    )
