"""Claim verifiers (issue 13): an LLM judge (:mod:`.judge`), an NLI classifier (:mod:`.nli`), and the
grading of their verdicts (:mod:`.grading`). Bring-your-own labels go through ``--scores`` with a
``verdict`` per claim (:mod:`rmbench.adapters.precomputed`).

Every verifier returns ``Prediction(scores={"verdict": <class or None>, ...})``.

Registration (kept in this one place so it can move): the model kinds :data:`CLAIM_KINDS` are built by
:func:`rmbench.adapters.families.claim_judge` and :func:`~rmbench.adapters.families.nli` (the kind x backend table); the
graders ``claims`` / ``judge:claims`` and the cluster grader ``claims_response`` are registered when
``rmbench.grading.core`` imports :mod:`.grading`.
"""

CLAIM_KINDS = ("claim-judge", "nli")
DEFAULT_CLASSES = ("supported", "unsupported", "undecidable")
RESPONSE_METRICS = (
    "resp_tp", "resp_fp", "resp_fn", "resp_tn",
    "factscore_human", "factscore_verifier", "factscore_error", "factscore_abs_error",
)  # fmt: skip


def item_metric_names(classes: tuple[str, ...] = DEFAULT_CLASSES) -> tuple[str, ...]:
    """Every per-item and per-response metric a claim task with ``classes`` produces
    (:mod:`rmbench.adapters.claims.grading`); task files are checked against it."""
    cells = tuple(f"cm_{g}_{p}" for g in classes for p in (*classes, "unparseable"))
    counts = tuple(f"{c}_{n}" for c in classes for n in ("tp", "fp", "fn"))
    return ("accuracy", "unparseable", *cells, *counts, *RESPONSE_METRICS)
