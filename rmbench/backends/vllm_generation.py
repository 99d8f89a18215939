"""Chat requests <-> vLLM objects for :meth:`rmbench.backends.vllm_backend.VLLMBackend.generate`.

Pure conversions (no engine is started here): the chat template rendered by the tokenizer and
encoded without special tokens (so a template that writes its own BOS does not get a second one),
sampling parameters, and vLLM's request output turned into a :class:`~rmbench.backends.Generation`
with the first-token log-probabilities of the request's ``choices``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rmbench.backends import Generation, GenerationRequest
from rmbench.errors import UserError

CHOICE_TOP_LOGPROBS = 20
"""Alternatives asked for at each generated position when a request has ``choices``."""


def chat_ids(tokenizer: Any, request: GenerationRequest) -> list[int]:
    """The request's messages rendered by the chat template, as token ids; ``assistant_prefix`` (text the
    assistant's reply starts with, e.g. RFEval's injected reasoning) is appended after the generation prompt."""
    if not getattr(tokenizer, "chat_template", None):
        raise UserError(
            "the model's tokenizer has no chat template, so chat requests cannot be rendered",
            hint="use a chat/instruct model, or one whose tokenizer_config.json carries chat_template",
        )
    text = tokenizer.apply_chat_template(list(request.messages), add_generation_prompt=True, tokenize=False)
    text += request.assistant_prefix
    return list(tokenizer.encode(text, add_special_tokens=False))


def sampling_params(vllm: Any, request: GenerationRequest) -> Any:
    return vllm.SamplingParams(
        max_tokens=request.max_new_tokens,
        temperature=request.temperature,
        seed=request.seed,
        stop=list(request.stop) or None,
        logprobs=CHOICE_TOP_LOGPROBS if request.choices else None,
    )


def choice_token_ids(tokenizer: Any, choices: Sequence[str]) -> dict[str, int]:
    """First token id of each choice encoded without special tokens (the transformers backend's rule)."""
    out = {}
    for choice in choices:
        ids = tokenizer.encode(choice, add_special_tokens=False)
        if ids:
            out[choice] = int(ids[0])
    return out


def to_generation(result: Any, request: GenerationRequest, tokenizer: Any) -> Generation:
    """vLLM's ``RequestOutput`` -> :class:`Generation` (choice log-probs read at the first position)."""
    completion = result.outputs[0]
    choice_logprobs = None
    extra: dict[str, Any] = {}
    if request.choices and completion.logprobs:
        first = completion.logprobs[0]  # token id -> Logprob, the top 20 and the sampled token
        choice_logprobs = {
            choice: float(first[token].logprob)
            for choice, token in choice_token_ids(tokenizer, request.choices).items()
            if token in first
        }
        extra["first_token_logprob_floor"] = min(float(lp.logprob) for lp in first.values())
    reason = completion.finish_reason
    if reason not in ("stop", "length"):
        extra["finish_reason_raw"] = reason
    if completion.stop_reason is not None:
        extra["stop_reason"] = completion.stop_reason
    return Generation(
        text=completion.text,
        finish_reason="length" if reason == "length" else "stop",
        prompt_tokens=len(result.prompt_token_ids or ()),
        completion_tokens=len(completion.token_ids),
        choice_logprobs=choice_logprobs,
        extra=extra,
    )
