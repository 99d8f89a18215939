"""Settings of the claim verifiers and how the runner hands them to ``build_adapter``.

* ``claim-judge`` reads the judge options of the run: ``--prompt`` (default: ``claim_evidence`` for a
  claim with evidence passages, ``claim_closed_book`` without; ``--prompt claim_closed_book`` makes
  an evidence task closed-book), ``--parser``, ``--unparseable retry:N`` and ``--max-new-tokens``.
* ``nli`` reads the task option ``nli_label_map`` (the model's labels -> the task's classes; override
  with ``--option nli_label_map='{entailment: supported, neutral: undecidable, contradiction: unsupported}'``
  or by label index ``{0: supported, ...}``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rmbench.adapters.claims import CLAIM_KINDS
from rmbench.errors import UserError

if TYPE_CHECKING:
    from rmbench.config import RunConfig

DEFAULT_NLI_MAP = {"entailment": "supported", "neutral": "undecidable", "contradiction": "unsupported"}


@dataclass(frozen=True)
class ClaimSettings:
    """Everything a claim verifier needs besides the model; recorded in the run summary."""

    prompt: str | None = None
    parser: str = "strict"
    retries: int = 0
    retry_temperature: float = 0.7
    max_new_tokens: int | None = None
    seed: int = 0
    context_chars: int = 1500
    nli_label_map: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_NLI_MAP))


def claim_adapter_options(cfg: RunConfig, options: Mapping[str, Any]) -> dict[str, Any]:
    """``{"claims": ClaimSettings}`` for the claim kinds, ``{}`` for every other kind.

    ``options`` are the task's options (``nli_label_map`` lives there, with the task's classes).
    """
    if cfg.kind not in CLAIM_KINDS:
        return {}
    retries = 0
    if getattr(cfg, "unparseable", None):
        from rmbench.adapters.judge.adapter import parse_unparseable

        _, retries = parse_unparseable(cfg.judge.unparseable)
    raw = options.get("nli_label_map", DEFAULT_NLI_MAP)
    if not isinstance(raw, Mapping) or not raw:
        raise UserError("option nli_label_map must map the model's labels to the task's classes")
    return {"claims": ClaimSettings(
        prompt=cfg.judge.prompt, parser=cfg.judge.parser, retries=retries, max_new_tokens=cfg.judge.max_new_tokens, seed=cfg.policy.seed,
        nli_label_map={str(k).strip().lower(): str(v) for k, v in raw.items()},
    )}  # fmt: skip
