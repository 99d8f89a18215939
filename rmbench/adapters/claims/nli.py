"""An NLI-style sequence classifier as a claim verifier.

Premise = the claim's evidence passages (joined by blank lines) or, without evidence, the response the
claim came from; hypothesis = the claim. The classifier's label probabilities (softmax over its labels)
are added up per task class through the label mapping (``entailment -> supported``, ``neutral ->
undecidable``, ``contradiction -> unsupported`` by default; by label name, case-insensitive, or by label
index), and the verdict is the class with the most probability (the earlier class in the task's order on
an exact tie). ``scores``: ``{"verdict": class, "probs": {class: p}}``.

The model loads from the backend's source with ``AutoModelForSequenceClassification`` (the backend has
already read its config and tokenizer, chosen the device, dtype and maximum length); premises are
truncated first (``only_first``) so the claim is always seen whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rmbench.adapters.claims.config import ClaimSettings
from rmbench.datatypes import ClaimExample, Example, Prediction
from rmbench.errors import UserError

BATCH = 16


def premise_of(example: ClaimExample) -> str:
    return "\n\n".join(example.evidence) if example.evidence else example.context


def label_classes(id2label: Mapping[int, str], mapping: Mapping[str, str]) -> list[str]:
    """The task class of each model label (by index), from a mapping keyed by label name or index.

    >>> label_classes({0: "ENTAILMENT", 1: "neutral"}, {"entailment": "supported", "1": "unsupported"})
    ['supported', 'unsupported']
    """
    out = []
    for i in range(len(id2label)):
        name = str(id2label[i]).strip().lower()
        target = mapping.get(name, mapping.get(str(i)))
        if target is None:
            raise UserError(
                f"the NLI label mapping has no entry for the model's label {i} ('{id2label[i]}')",
                hint="map every label, e.g. --option nli_label_map='{0: supported, 1: undecidable, 2: unsupported}'",
            )
        out.append(target)
    return out


def class_probs(probs: Sequence[float], targets: Sequence[str], classes: Sequence[str]) -> dict[str, float]:
    """Label probabilities added up per class (every class present, 0.0 when no label maps to it)."""
    out = dict.fromkeys(classes, 0.0)
    for p, c in zip(probs, targets, strict=True):
        if c not in out:
            raise UserError(f"the NLI label mapping names class '{c}', not one of the task's classes {list(classes)}")
        out[c] += float(p)
    return out


class NLIAdapter:
    kind = "nli"

    def __init__(self, backend: Any, settings: ClaimSettings, model_id: str = "") -> None:
        self.backend = backend
        self.settings = settings
        self.model_id = model_id
        self._model: Any = None
        self._targets: list[str] = []

    def _load(self) -> Any:
        if self._model is None:
            from transformers import AutoModelForSequenceClassification

            b = self.backend
            model = AutoModelForSequenceClassification.from_pretrained(
                b.source, revision=b.config.revision, dtype=b.dtype
            )
            model.to(b.device).eval()
            if model.config.pad_token_id is None:
                tok = b.tokenizer
                model.config.pad_token_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
            self._targets = label_classes(model.config.id2label, self.settings.nli_label_map)
            self._model = model
        return self._model

    def describe(self) -> dict[str, Any]:
        model = self._load()
        return {
            **dict(self.backend.describe()), "id": self.model_id, "kind": "nli",
            "nli": {"labels": {str(i): str(n) for i, n in model.config.id2label.items()},
                    "label_map": dict(self.settings.nli_label_map), "premise": "evidence, else the response"},
        }  # fmt: skip

    def score(self, examples: Sequence[Example]) -> list[Prediction]:
        import torch

        model = self._load()
        tok = self.backend.tokenizer
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        preds: list[Prediction] = []
        for start in range(0, len(examples), BATCH):
            chunk = [e for e in examples[start : start + BATCH]]
            for e in chunk:
                if not isinstance(e, ClaimExample):
                    raise UserError(f"item {e.id}: the nli kind verifies claims, not '{e.kind}' examples")
            premises = [premise_of(e) or " " for e in chunk]  # type: ignore[arg-type]
            claims = [e.claim for e in chunk]  # type: ignore[union-attr]
            enc = tok(premises, claims, truncation="only_first", max_length=self.backend.max_length,
                      padding=True, return_tensors="pt").to(model.device)
            with torch.no_grad():
                probs = torch.softmax(model(**enc).logits.float(), dim=-1).tolist()
            lengths = enc["attention_mask"].sum(dim=1).tolist()
            for e, p, n in zip(chunk, probs, lengths, strict=True):
                per_class = class_probs(p, self._targets, e.classes)  # type: ignore[union-attr]
                verdict = max(per_class, key=lambda c: (per_class[c], -e.classes.index(c)))  # type: ignore[union-attr]
                preds.append(Prediction(scores={"verdict": verdict, "probs": per_class}, tokens=int(n)))
        return preds
