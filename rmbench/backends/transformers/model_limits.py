"""What a loaded model can take, decided before any scoring: its context length and whether its
scoring head was trained. Import-light (no torch): the inputs are the transformers config, the
tokenizer and the loader's report.

* :func:`position_limit`: the model's own context length, from ``max_position_embeddings`` in the
  config and ``model_max_length`` in the tokenizer (the smaller of the two that are sane).
* :func:`resolve_max_length`: ``--max-length`` when given (refused past the model's limit unless
  forced), else the model's limit; returns the value and a sentence saying where it came from.
* :func:`check_trained_head`: refuses a sequence classifier whose head the loader had to initialise
  randomly (a causal LM loaded as a reward model), unless explicitly allowed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rmbench.errors import UserError

DEFAULT_MAX_LENGTH = 4096
"""Tokens, used only when neither the config nor the tokenizer declares a limit."""
_SANE = range(2, 10_000_000)  # tokenizers without a limit report int(1e30)


def position_limit(hf_config: Any, tokenizer: Any) -> tuple[int | None, str]:
    """(the model's context length in tokens or None, where it was read).

    The smaller of ``max_position_embeddings`` (of the text config) and the tokenizer's
    ``model_max_length``, ignoring values outside 2..10M (``int(1e30)`` means "no limit" in transformers).
    The smaller wins because either can be the binding one (RoBERTa: 514 positions, 512 usable).
    """
    text_config = hf_config.get_text_config() if hasattr(hf_config, "get_text_config") else hf_config
    found: list[tuple[int, str]] = []
    positions = getattr(text_config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions in _SANE:
        found.append((positions, f"config max_position_embeddings={positions}"))
    declared = getattr(tokenizer, "model_max_length", None)
    if isinstance(declared, int) and declared in _SANE:
        found.append((declared, f"tokenizer model_max_length={declared}"))
    if not found:
        return None, "the model declares no limit"
    limit = min(value for value, _ in found)
    return limit, ", ".join(text for _, text in found)


def resolve_max_length(
    requested: int | None, hf_config: Any, tokenizer: Any, *, force: bool = False
) -> tuple[int, str]:
    """(max length in tokens, a sentence saying where it came from) for the run record.

    ``requested=None`` takes the model's own limit (:func:`position_limit`; ``DEFAULT_MAX_LENGTH``
    when it declares none). A request above the model's limit is refused unless ``force``: positions
    past it were never trained and give meaningless scores without any error.
    """
    limit, source = position_limit(hf_config, tokenizer)
    if requested is None:
        if limit is None:
            return DEFAULT_MAX_LENGTH, f"default {DEFAULT_MAX_LENGTH} ({source})"
        return limit, f"the model's limit ({source})"
    if limit is not None and requested > limit:
        if not force:
            raise UserError(
                f"--max-length {requested} is more than this model accepts ({limit} tokens: {source})",
                hint=f"leave --max-length out to use {limit}, or add --force-max-length if you know the "
                "model works past its declared limit",
            )
        return requested, f"--max-length, forced past the model's limit ({source})"
    return requested, "--max-length" if limit is None else f"--max-length (the model's limit: {source})"


def check_trained_head(missing_keys: Sequence[str], hf_config: Any, *, allow_random: bool) -> None:
    """Refuse a sequence classifier with weights the checkpoint did not hold (its scoring head, as when
    a causal LM is loaded as a reward model): its scores would be noise presented as a result.

    ``missing_keys`` is what ``from_pretrained(..., output_loading_info=True)`` reports as initialised
    from scratch. ``allow_random`` (``--allow-random-head``) lets tests and speed measurements through;
    the keys are then still recorded in run.json as ``randomly_initialised``.
    """
    if not missing_keys or allow_random:
        return
    archs = [str(a) for a in (getattr(hf_config, "architectures", None) or [])]
    shown = ", ".join(sorted(missing_keys)[:4]) + (" ..." if len(missing_keys) > 4 else "")
    causal = any(a.endswith(("ForCausalLM", "ForConditionalGeneration")) for a in archs)
    what = f"a {archs[0]} checkpoint" if archs else "this checkpoint"
    raise UserError(
        f"{what} has no trained reward head: loading it as a sequence classifier initialised {shown} "
        "randomly, so its scores would mean nothing",
        hint=("score a causal LM with --kind likelihood (or --kind judge)" if causal else
              "pass a reward model trained with a classification head")
        + "; --allow-random-head runs it anyway (for tests and speed measurements)",
    )
