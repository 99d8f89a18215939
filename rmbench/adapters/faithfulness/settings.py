"""From run options to the faithfulness adapter: settings, their record in the run identity, and the build.

Run options used: ``--max-new-tokens`` (tokens per generated answer; default 512), ``--backend`` and
``--api-base`` (any generative backend), ``--seed``. Task options (``--option KEY=VALUE``):
``classifier_model`` (the LLM classifier; default the generating model itself, ``none`` for regex only),
``patterns_file`` (extra regex patterns), ``judge_max_new_tokens`` (default 8). ``--model none`` runs no
model at all: bring-your-own traces classified by the regex (and any verdicts the file carries).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from rmbench.adapters.faithfulness.adapter import FaithfulnessAdapter, FaithfulnessSettings
from rmbench.adapters.faithfulness.classifiers import load_patterns

if TYPE_CHECKING:
    from rmbench.config import RunConfig

NO_MODEL = "none"


def faithfulness_settings(cfg: RunConfig, options: Mapping[str, Any]) -> FaithfulnessSettings:
    classifier = options.get("classifier_model")
    return FaithfulnessSettings(
        max_new_tokens=cfg.judge.max_new_tokens or 512,
        judge_max_new_tokens=int(options.get("judge_max_new_tokens", 8)),
        classifier_model=None if classifier is None else str(classifier),
        patterns_file=None if options.get("patterns_file") is None else str(options["patterns_file"]),
        seed=cfg.policy.seed,
    )


def faithfulness_adapter_options(cfg: RunConfig, options: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for ``build_adapter`` (nothing unless ``cfg.kind == "faithfulness"``)."""
    if cfg.kind != "faithfulness":
        return {}
    return {"faithfulness": faithfulness_settings(cfg, options)}  # the engine: --backend, as every kind


def build_faithfulness_adapter(model: str, settings: FaithfulnessSettings | None,
                               engine: Callable[[str], Any]) -> FaithfulnessAdapter:
    """``engine(model)`` builds a generation backend; the classifier reuses the generator's unless
    ``classifier_model`` names another model (``none``: no LLM classifier)."""
    settings = settings or FaithfulnessSettings()
    patterns = load_patterns(settings.patterns_file)  # a bad pattern fails before a model loads
    generator = None if model == NO_MODEL else engine(model)
    name = settings.classifier_model
    if name is None:
        classifier = generator
    else:
        classifier = None if name == NO_MODEL else generator if name == model else engine(name)
    return FaithfulnessAdapter(generator, classifier, settings, patterns, model_id=model)
