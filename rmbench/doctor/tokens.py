"""Token-level checks: chat template, BOS, pad token, truncation. Import-light (no torch).

Each takes the tokenizer and/or the token sequences rmbench itself scores for the sample
(:meth:`rmbench.adapters.chat.ChatRenderer.scoring_ids` or ``likelihood_span``), so what is counted is
what a run feeds the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rmbench.doctor.checks import CheckResult

GENERIC_CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}"
)
"""The ChatML template older transformers releases used as a silent default (``default_chat_template``);
a tokenizer carrying exactly it (with or without the generation prompt) most likely got it by default."""
_PROBE = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]


def template_check(tokenizer: Any) -> CheckResult:
    """Warn when the tokenizer has no chat template (rmbench then uses its plain format) or only the
    generic ChatML default that older transformers filled in."""
    name = "chat template"
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, dict):  # several named templates: rmbench renders with the default one
        template = template.get("default")
    if not isinstance(template, str) or not template.strip():
        return CheckResult(
            name, "warn", "none: rmbench renders 'User: ...\\nAssistant: ...' with the tokenizer's own special tokens",
            "a chat model scores text in the format it was trained on: add the model's template to "
            "tokenizer_config.json (chat_template) if it has one; for a plain encoder this may be intended",
        )
    if template.strip().startswith(GENERIC_CHATML):
        return CheckResult(name, "warn", "the generic ChatML default (not written for this model?)",
                           "check the model card: models trained with another format score ChatML text off-distribution")
    return CheckResult(name, "pass", f"present ({len(template)} characters)")


def _starts_with(ids: Sequence[int], token: int, times: int) -> bool:
    return len(ids) >= times and all(i == token for i in ids[:times])


def bos_check(tokenizer: Any, sequences: Sequence[Sequence[int]] | None) -> CheckResult:
    """Duplicated or missing BOS.

    ``fail``: a sequence rmbench scores starts with two BOS tokens. ``warn``: the template writes BOS and
    the tokenizer adds another to the rendered text (the classic duplicate of
    ``tokenizer(apply_chat_template(..., tokenize=False))``; rmbench tokenizes rendered text without
    special tokens, so its sequences keep one), or the tokenizer adds BOS to plain text but the template
    writes none (the scored sequences have no BOS). ``sequences=None`` (a run, before scoring): the
    template and tokenizer are probed with a two-turn conversation only.
    """
    name = "BOS token"
    bos = getattr(tokenizer, "bos_token_id", None)
    if bos is None:
        return CheckResult(name, "pass", "the tokenizer has no BOS token")
    seqs = sequences or []
    doubled = sum(_starts_with(s, bos, 2) for s in seqs)
    start = f"{sum(_starts_with(s, bos, 1) for s in seqs)} of {len(seqs)}" if sequences is not None else "rmbench's"
    if doubled:
        return CheckResult(name, "fail", f"{doubled} of {len(seqs)} scored sequences start with two BOS tokens",
                           "fix the chat template so BOS is written once")
    adds = _starts_with(tokenizer("a", add_special_tokens=True)["input_ids"], bos, 1)
    template = getattr(tokenizer, "chat_template", None)
    if not template:
        return CheckResult(name, "pass", f"no chat template; {start} sequences start with BOS "
                           "(the tokenizer's own special tokens)")
    text = str(tokenizer.apply_chat_template(_PROBE, tokenize=False))
    writes = _starts_with(tokenizer(text, add_special_tokens=False)["input_ids"], bos, 1)
    token = f"'{tokenizer.bos_token}' (id {bos})"
    if writes and adds:
        return CheckResult(
            name, "warn",
            f"duplicated BOS: the template writes {token} and the tokenizer adds another; rmbench tokenizes "
            f"the rendered text without special tokens, so {start} sequences start with one BOS",
            "rmbench is unaffected; a pipeline calling tokenizer(apply_chat_template(..., tokenize=False)) "
            "feeds two BOS tokens (pass add_special_tokens=False there)",
        )
    if adds and not writes:
        return CheckResult(
            name, "warn", f"missing BOS: the tokenizer adds {token} to plain text but the chat template writes none; "
            f"{start} scored sequences start with BOS",
            "check the model card: if the model was trained with BOS, its template should write it",
        )
    where = "written by the template" if writes else "neither the template nor the tokenizer adds one"
    return CheckResult(name, "pass", f"{start} sequences start with BOS ({where}); none doubled")


def pad_check(tokenizer: Any, model_pad_id: int | None, sequences: Sequence[Sequence[int]] | None, *,
              pools_from_mask: bool) -> CheckResult:
    """The pad token: missing, or equal to EOS / a token inside the text.

    rmbench pads on the right with an attention mask and (for decoder classifiers, ``pools_from_mask``)
    reads each row's last real token from the mask, so a pad id that also occurs in the text changes
    nothing there. It matters where the last token is found from ``pad_token_id`` (transformers' own
    ``...ForSequenceClassification`` pooling, used by rmbench for other classifiers): a sequence that ends
    with the pad token is then pooled at an earlier token -> ``warn``. ``sequences=None`` (a run, before
    scoring): the tokenizer and config only.
    """
    name = "pad token"
    seqs = sequences or []
    pad = getattr(tokenizer, "pad_token_id", None)
    eos = getattr(tokenizer, "eos_token_id", None)
    used = model_pad_id if model_pad_id is not None else pad
    if used is None:
        return CheckResult(name, "info", "none: rmbench pads with id 0 under the attention mask",
                           "harmless for rmbench; other pipelines need a pad token")
    inside = sum(used in s for s in seqs)
    ending = sum(bool(s) and s[-1] == used for s in seqs)
    facts = [f"pad id {used}" + (" (= EOS)" if used == eos else "") + ("" if pad is not None else
             ", the tokenizer has none (taken from the model config or EOS)")]
    if sequences is not None:
        facts.append(f"it occurs inside {inside} of {len(seqs)} sequences and ends {ending}")
    value = "; ".join(facts)
    if ending and not pools_from_mask:
        return CheckResult(name, "warn", value + "; this model pools via pad_token_id, so those sequences are "
                           "read at an earlier token", "give the tokenizer a dedicated pad token ([PAD]) in the model config")
    if inside or pad is None or used == eos or (sequences is None and not pools_from_mask):
        return CheckResult(name, "info", value + "; rmbench masks padding and finds each row's last real token from the attention mask",
                           "harmless for rmbench; code finding the last token via pad_token_id can misread these")
    return CheckResult(name, "pass", value)


def truncation_check(lengths: Sequence[int], max_length: int, side: str) -> CheckResult:
    """How many of the sample's sequences exceed ``max_length`` tokens (each would be cut on ``side``)."""
    name = f"truncation at {max_length}"
    n = len(lengths)
    over = [x for x in lengths if x > max_length]
    longest = max(lengths, default=0)
    if over:
        return CheckResult(name, "warn", f"{len(over)} of {n} sequences exceed it (longest {longest} tokens; "
                           f"cut on the {side})",
                           "raise --max-length up to the model's limit, or report truncated items (a run counts them)")
    return CheckResult(name, "pass", f"0 of {n} sequences exceed it (longest {longest} tokens)")
