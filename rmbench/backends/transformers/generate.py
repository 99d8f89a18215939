"""Batched chat generation with a local transformers causal LM (the engine side of judges).

The transformers backend calls :func:`generate` from its ``generate`` method; the functions take the
model, tokenizer and device explicitly so they can be tested without the backend class.

What it does, and the pitfalls it checks:

* the chat template is applied with ``add_generation_prompt=True`` and the text is tokenized
  **without** adding special tokens again (no duplicated BOS);
* batches are **left**-padded (the last prompt token of every row sits at the same position, so
  the first generated token is predicted from the right place), sorted by length and packed to a
  token budget (prompt + new tokens) with :func:`rmbench.backends.batching.pack_by_budget`;
* greedy decoding uses a fresh ``GenerationConfig`` (a model's own defaults, such as a repetition
  penalty, are not applied silently); requests with ``temperature > 0`` are sampled one at a time
  under their own ``seed`` so the sample does not depend on batching;
* generation stops at EOS or at a stop string; the text is cut at the first stop string;
* ``choice_logprobs``: log-softmax over the vocabulary of the **raw** logits at the first generated
  position, read at the first token of each choice string (``"YES"`` -> its first token).
  Two choices that share a first token get the same value: callers should pick distinguishable
  choices. Prompts longer than ``max_length - max_new_tokens`` are cut from the left and the
  number of cut tokens is reported in ``Generation.extra["truncated_tokens"]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rmbench.backends import Generation, GenerationRequest
from rmbench.backends.batching import pack_by_budget, truncate
from rmbench.errors import BackendRefused


@dataclass(frozen=True)
class GenerateSettings:
    """Batching limits: padded tokens per batch, rows per batch, and the context length (tokens)."""

    token_budget: int = 16384
    max_batch_size: int = 16
    max_length: int = 4096
    prefix_reuse: bool = True  # greedy groups sharing prompt prefixes: rmbench.backends.transformers.prefix_reuse


@dataclass
class GenerateStats:
    """Prompt tokens of greedy requests run through prefix reuse, and how many of them were computed."""

    reused_requests: int = 0
    prompt_tokens: int = 0
    prompt_tokens_run: int = 0


def encode_chat(
    tokenizer: Any, messages: Sequence[Any], max_tokens: int | None = None, assistant_prefix: str = ""
) -> list[int]:
    """Token ids of ``messages`` under the tokenizer's chat template, ending with the assistant cue
    (followed by ``assistant_prefix``, the start of the reply the model continues).

    With ``max_tokens`` (the prompt room), a rendering far longer than that is cut by characters on the
    left before tokenizing (:func:`rmbench.data.text_limits.encode_within`): the last ``max_tokens`` ids,
    the only ones generation keeps, are unchanged and memory stays bounded.
    """
    if not getattr(tokenizer, "chat_template", None):
        raise BackendRefused(
            "this tokenizer has no chat template, so judge prompts cannot be formatted",
            hint="use an instruction-tuned model that ships a chat template",
        )
    text = tokenizer.apply_chat_template(
        [{"role": m["role"], "content": m["content"]} for m in messages],
        add_generation_prompt=True,
        tokenize=False,
    ) + assistant_prefix
    from rmbench.data.text_limits import TextLimit, encode_within

    def encode(part: str) -> list[int]:
        return list(tokenizer(part, add_special_tokens=False, verbose=False)["input_ids"])

    limit = TextLimit(max_tokens, "left") if max_tokens else None
    return encode_within(text, limit, tokenizer, encode)[0]


def choice_token_ids(tokenizer: Any, choices: Sequence[str]) -> dict[str, int]:
    """The first token id of each choice string (encoded without special tokens)."""
    out = {}
    for c in choices:
        ids = tokenizer.encode(c, add_special_tokens=False)
        if ids:
            out[c] = int(ids[0])
    return out


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """``text`` up to (not including) the earliest stop string, and whether one was found.

    >>> cut_at_stop("A\\n\\nbecause", ["\\n\\n"])
    ('A', True)
    >>> cut_at_stop("B", ["###"])
    ('B', False)
    """
    cuts = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return (text[: min(cuts)], True) if cuts else (text, False)


def generate(
    model: Any,
    tokenizer: Any,
    requests: Sequence[GenerationRequest],
    device: Any,
    settings: GenerateSettings | None = None,
    stats: GenerateStats | None = None,
) -> list[Generation]:
    """One :class:`Generation` per request, in order (see the module docs for the rules); ``stats``
    counts the prompt tokens prefix reuse saved."""
    settings = settings or GenerateSettings()
    stats = stats if stats is not None else GenerateStats()
    encoded: list[list[int]] = []
    cut: list[int] = []
    for r in requests:
        room = max(1, settings.max_length - r.max_new_tokens)
        ids, n_cut = truncate(encode_chat(tokenizer, r.messages, room, r.assistant_prefix), room, "left")
        encoded.append(ids)
        cut.append(n_cut)
    out: list[Generation | None] = [None] * len(requests)
    groups: dict[tuple[int, tuple[str, ...]], list[int]] = {}
    for i, r in enumerate(requests):
        if r.temperature > 0:
            out[i] = _run_batch(model, tokenizer, [r], [encoded[i]], device)[0]
        else:
            groups.setdefault((r.max_new_tokens, tuple(r.stop)), []).append(i)
    for (max_new, stop), members in groups.items():
        if settings.prefix_reuse and _reuse(model, settings, [encoded[i] for i in members]):
            import torch

            from rmbench.backends.transformers.prefix_reuse import StopRule, generate_shared

            rule = StopRule(_eos_ids(model), stop, max_new)
            rows, ran = generate_shared(model, tokenizer, [encoded[i] for i in members], device, rule,
                                        settings.max_batch_size, settings.token_budget)
            for i, (toks, first_logits) in zip(members, rows, strict=True):
                first = torch.log_softmax(first_logits, dim=-1) if requests[i].choices else None
                out[i] = read_generation(tokenizer, requests[i], toks, rule.eos_ids, len(encoded[i]), first)
            stats.reused_requests += len(members)
            stats.prompt_tokens += sum(len(encoded[i]) for i in members)
            stats.prompt_tokens_run += ran
            continue
        lengths = [len(encoded[i]) + max_new for i in members]
        for batch in pack_by_budget(lengths, settings.token_budget, settings.max_batch_size):
            idx = [members[b] for b in batch]
            results = _run_batch(
                model, tokenizer, [requests[i] for i in idx], [encoded[i] for i in idx], device
            )
            for i, g in zip(idx, results, strict=True):
                out[i] = g
    final: list[Generation] = []
    for i, maybe in enumerate(out):
        assert maybe is not None
        if cut[i]:
            maybe = Generation(**{**maybe.__dict__, "extra": {**maybe.extra, "truncated_tokens": cut[i]}})
        final.append(maybe)
    return final


def _reuse(model: Any, settings: GenerateSettings, prompts: list[list[int]]) -> bool:
    """Whether a greedy group goes through prefix reuse: a decoder whose cache can be cut and reused
    exactly, and prompts sharing enough (:func:`rmbench.backends.transformers.prefix_reuse.sharing_pays`)."""
    from rmbench.backends.transformers.forward import caches_like_a_decoder
    from rmbench.backends.transformers.prefix_reuse import sharing_pays

    return sharing_pays(prompts) and caches_like_a_decoder(model, settings.max_length)


def _eos_ids(model: Any) -> frozenset[int]:
    eos = model.generation_config.eos_token_id
    return frozenset(int(e) for e in (eos if isinstance(eos, (list, tuple)) else [eos]) if e is not None)


def _stopping(tokenizer: Any, stops: Sequence[str], width: int) -> Any:
    """A stopping criterion that ends a row once its generated text contains a stop string."""
    import torch
    from transformers import StoppingCriteria

    class _StopStrings(StoppingCriteria):  # type: ignore[misc]
        def __call__(
            self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any
        ) -> torch.BoolTensor:
            done = [
                any(s in tokenizer.decode(row[width:], skip_special_tokens=True) for s in stops)
                for row in input_ids
            ]
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)  # type: ignore[return-value]

    return _StopStrings()


def pad_left(seqs: Sequence[Sequence[int]], pad_id: int) -> tuple[Any, Any]:
    """(input_ids, attention_mask) as long tensors on the CPU, each row padded on the left to the longest."""
    import torch

    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, s in enumerate(seqs):
        ids[row, width - len(s) :] = torch.tensor(list(s), dtype=torch.long)
        mask[row, width - len(s) :] = 1
    return ids, mask


def _run_batch(
    model: Any, tokenizer: Any, reqs: Sequence[GenerationRequest], prompts: Sequence[list[int]], device: Any
) -> list[Generation]:
    """Generate for one left-padded batch of requests that share max_new_tokens, stop and temperature."""
    import torch
    from transformers import GenerationConfig, StoppingCriteriaList

    first = reqs[0]
    eos = model.generation_config.eos_token_id
    eos_ids = {int(e) for e in (eos if isinstance(eos, (list, tuple)) else [eos]) if e is not None}
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(eos_ids, default=0)
    input_ids, mask = pad_left(prompts, pad)
    width = input_ids.shape[1]
    sample = first.temperature > 0
    config = GenerationConfig(
        max_new_tokens=first.max_new_tokens,
        do_sample=sample,
        temperature=first.temperature if sample else None,
        top_k=0 if sample else None,
        top_p=1.0 if sample else None,
        num_beams=1,
        eos_token_id=sorted(eos_ids) or None,
        pad_token_id=pad,
        output_logits=True,
        return_dict_in_generate=True,
    )
    criteria = StoppingCriteriaList([_stopping(tokenizer, first.stop, width)]) if first.stop else None
    with torch.inference_mode(), torch.random.fork_rng(devices=[]):
        if sample:
            torch.manual_seed(first.seed if first.seed is not None else 0)
        result = model.generate(
            input_ids=input_ids.to(device),
            attention_mask=mask.to(device),
            generation_config=config,
            stopping_criteria=criteria,
        )
    new_tokens = result.sequences[:, width:].tolist()
    first_logprobs = torch.log_softmax(result.logits[0].float(), dim=-1) if result.logits else None
    return [
        read_generation(tokenizer, req, toks, eos_ids, len(prompts[row]),
                        first_logprobs[row] if first_logprobs is not None else None)
        for row, (req, toks) in enumerate(zip(reqs, new_tokens, strict=True))
    ]


def read_generation(tokenizer: Any, req: GenerationRequest, toks: Sequence[int], eos_ids: Any, prompt_tokens: int,
                    first_logprobs: Any) -> Generation:
    """One row's generated ids -> :class:`Generation`: text cut at the first EOS and at the first stop
    string; ``choice_logprobs`` read from the first position's log-softmax (a vocabulary vector)."""
    end = next((k for k, t in enumerate(toks) if t in eos_ids), None)
    kept = list(toks if end is None else toks[:end])
    text, stopped = cut_at_stop(tokenizer.decode(kept, skip_special_tokens=True), req.stop)
    finish = "stop" if end is not None or stopped else "length"
    choice_lp = None
    if req.choices and first_logprobs is not None:
        ids = choice_token_ids(tokenizer, req.choices)
        choice_lp = {c: float(first_logprobs[t]) for c, t in ids.items()}
    return Generation(
        text=text,
        finish_reason=finish,
        prompt_tokens=prompt_tokens,
        completion_tokens=len(kept) + (1 if end is not None else 0),
        choice_logprobs=choice_lp,
    )
