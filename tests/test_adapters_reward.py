"""Reward adapters: chat rendering, scalar / likelihood / implicit scores on real small models, baselines."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rmbench.adapters.baselines import LengthBaseline, RandomBaseline
from rmbench.datatypes import MultiResponseExample, PairwiseExample, PointwiseExample
from rmbench.errors import UserError

FRANCE = PairwiseExample(
    id="fr",
    subset="capitals",
    prompt="What is the capital of France?",
    chosen="The capital of France is Paris.",
    rejected="The capital of France is Berlin.",
)
MULTI = MultiResponseExample(
    id="m1",
    subset="math",
    prompt=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+2?"}],
    correct=("4", "Four."),
    incorrect=("5", " 22 ", "héllo wörld ✓"),
)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():  # type: ignore[no-untyped-def]
    """Two OpenMP threads on a busy 2-core machine run tiny models ~30x slower than one."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tokenizer(smollm2_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(smollm2_dir)


def _build(model: Path | str, kind: str, **kwargs: Any) -> Any:
    from rmbench.adapters.build import build_adapter

    return build_adapter(str(model), kind, **kwargs)


# --- chat rendering -----------------------------------------------------------------------------
def test_response_start_index_decodes_back_to_the_response(tokenizer: Any) -> None:
    from rmbench.adapters.chat import ChatRenderer

    chat = ChatRenderer(tokenizer)
    for response in (*MULTI.correct, *MULTI.incorrect, FRANCE.chosen):
        span = chat.likelihood_span(MULTI.prompt, response)
        assert tokenizer.decode(span.ids[span.start :]) == response
        full = chat.scoring_ids(MULTI.prompt, response)
        assert full[: span.start] == span.ids[: span.start]  # the prompt tokens are a prefix
        assert tokenizer.decode(full).endswith(response + "<|im_end|>\n")
    assert chat.describe()["counts"].get("boundary_merges", 0) == 0
    assert chat.describe()["chat_template"] is not None


def test_no_duplicated_bos_when_the_tokenizer_adds_one(smollm2_dir: Path) -> None:
    from transformers import AutoTokenizer

    from rmbench.adapters.chat import ChatRenderer

    tok = AutoTokenizer.from_pretrained(smollm2_dir, add_bos_token=True)  # BOS is <|im_start|>
    assert tok("hi")["input_ids"][0] == tok.bos_token_id
    chat = ChatRenderer(tok)
    ids = chat.scoring_ids(FRANCE.prompt, FRANCE.chosen)
    text = tok.apply_chat_template([*FRANCE.prompt, {"role": "assistant", "content": FRANCE.chosen}], tokenize=False)
    assert ids.count(tok.bos_token_id) == text.count(tok.bos_token)
    assert ids[:2] != [tok.bos_token_id] * 2

    tok.chat_template = "{{ bos_token }}" + tok.chat_template  # a template that writes BOS twice
    chat = ChatRenderer(tok)
    ids = chat.scoring_ids(FRANCE.prompt, FRANCE.chosen)
    assert ids[0] == tok.bos_token_id and ids[1] != tok.bos_token_id
    assert chat.counts["duplicated_bos"] == 1


def test_plain_fallback_without_chat_template(smollm2_dir: Path) -> None:
    from transformers import AutoTokenizer

    from rmbench.adapters.chat import ChatRenderer

    tok = AutoTokenizer.from_pretrained(smollm2_dir)
    tok.chat_template = None
    chat = ChatRenderer(tok)
    with pytest.warns(UserWarning, match="no chat template"):
        span = chat.likelihood_span(FRANCE.prompt, FRANCE.chosen)
    text = tok.decode(span.ids)
    assert text == "User: What is the capital of France?\nAssistant: The capital of France is Paris."
    assert tok.decode(span.ids[span.start :]) == FRANCE.chosen
    assert chat.describe()["chat_template"] is None


# --- scalar -------------------------------------------------------------------------------------
def test_scalar_adapter_layout_and_prefix_sharing(tiny_rm_dir: Path) -> None:
    shared = _build(tiny_rm_dir, "scalar")
    plain = _build(tiny_rm_dir, "scalar", prefix_sharing=False, max_batch_size=1)
    assert shared.kind == "scalar" and shared.describe()["heads"]["seq-cls"]["prefix_sharing"]
    a, b = shared.score([FRANCE, MULTI]), plain.score([FRANCE, MULTI])
    assert set(a[0].scores) == {"chosen", "rejected"}
    assert len(a[1].scores["correct"]) == 2 and len(a[1].scores["incorrect"]) == 3
    for pa, pb in zip(a, b, strict=True):
        for key in pa.scores:
            va, vb = pa.scores[key], pb.scores[key]
            for x, y in zip(va if isinstance(va, list) else [va], vb if isinstance(vb, list) else [vb], strict=True):
                assert abs(x - y) < 1e-4
        assert pa.tokens == pb.tokens > 0
    with pytest.raises(UserError, match="pairwise and multi_response"):
        shared.score([PointwiseExample(id="p", subset="s", prompt="q", response="r", label="yes")])


# --- likelihood and implicit --------------------------------------------------------------------
def test_likelihood_prefers_paris_on_smollm2(smollm2_dir: Path) -> None:
    adapter = _build("embedded:smollm2-135m-instruct", "likelihood")
    assert adapter.describe()["chat"]["chat_template"] is not None
    pred = adapter.score([FRANCE])[0]
    assert pred.scores["chosen"] > pred.scores["rejected"]
    assert pred.scores["chosen"] == pytest.approx(-2.58, abs=0.05)  # measured: -2.58 vs -12.09 (notes)
    assert pred.extra["response_tokens"] == [7, 7]


def test_likelihood_sum_mean_and_empty_response(tiny_lm_dir: Path) -> None:
    total = _build(tiny_lm_dir, "likelihood", reduction="sum")
    mean = _build(tiny_lm_dir, "likelihood", reduction="mean")
    ps, pm = total.score([FRANCE])[0], mean.score([FRANCE])[0]
    n = ps.extra["response_tokens"][0]
    assert pm.scores["chosen"] == pytest.approx(ps.scores["chosen"] / n, rel=1e-6)
    empty = PairwiseExample(id="e", subset="s", prompt="Hi", chosen="Hello!", rejected="")
    pred = total.score([empty])[0]
    assert pred.invalid and math.isnan(pred.scores["rejected"]) and "no tokens" in pred.extra["invalid_reason"]


def test_implicit_reward_of_a_model_against_itself_is_zero(tiny_lm_dir: Path) -> None:
    from rmbench.adapters.likelihood import ImplicitRewardAdapter
    from rmbench.backends.transformers.backend import ModelConfig, TransformersBackend

    shared = _build(tiny_lm_dir, "implicit", ref_model=str(tiny_lm_dir), beta=0.1)
    assert shared.policy is shared.reference
    two = ImplicitRewardAdapter(
        TransformersBackend(ModelConfig(str(tiny_lm_dir))), TransformersBackend(ModelConfig(str(tiny_lm_dir)))
    )
    for adapter in (shared, two):
        preds = adapter.score([FRANCE, MULTI])
        assert preds[0].scores == {"chosen": 0.0, "rejected": 0.0}
        assert preds[1].scores["incorrect"] == [0.0, 0.0, 0.0]
    assert two.describe()["kind"] == "implicit"


def test_implicit_refuses_different_vocabularies() -> None:
    from rmbench.adapters.likelihood import ImplicitRewardAdapter

    class Fake:
        def __init__(self, vocab: dict[str, int]) -> None:
            self.tokenizer = type("Tok", (), {"get_vocab": lambda _self: vocab, "chat_template": None})()

    with pytest.raises(UserError, match="different vocabularies"):
        ImplicitRewardAdapter(Fake({"a": 0}), Fake({"b": 0}))  # type: ignore[arg-type]


# --- baselines and model strings ----------------------------------------------------------------
def test_length_baseline_prefers_longer() -> None:
    (pred,) = LengthBaseline().score([FRANCE])
    assert pred.scores == {"chosen": len(FRANCE.chosen), "rejected": len(FRANCE.rejected)}


def test_random_baseline_is_deterministic_and_order_free() -> None:
    items = [FRANCE, MULTI]
    a = RandomBaseline(seed=7).score(items)
    b = RandomBaseline(seed=7).score(items[::-1])[::-1]
    assert [p.scores for p in a] == [p.scores for p in b]
    assert a[0].scores != RandomBaseline(seed=8).score(items)[0].scores
    assert all(0.0 <= v < 1.0 for v in a[1].scores["correct"] + a[1].scores["incorrect"])


def test_baselines_and_model_building_do_not_import_torch() -> None:
    code = (
        "import sys; from rmbench.adapters.build import build_adapter; "
        "a = build_adapter('baseline:random', 'baseline', seed=3); "
        "assert a.kind == 'baseline'; assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    ("model", "kind", "kwargs", "match"),
    [
        ("baseline:length", "scalar", {}, "baselines are"),
        ("baseline:median", "baseline", {}, "baselines are"),
        ("some/folder-that-is-missing/x", "scalar", {}, "model folder not found"),
        ("org/name", "judge-of-everything", {}, "unknown model kind"),
        ("org/name", "scalar", {"ref_model": "org/ref"}, "only used with --kind implicit"),
        ("org/name", "implicit", {}, "needs --ref-model"),
        ("org/name", "implicit", {"ref_model": "org/ref", "reduction": "mean"}, "sums log-probabilities"),
        ("org/name@", "scalar", {}, "cannot read model"),
    ],
)
def test_build_adapter_validates_combinations(model: str, kind: str, kwargs: dict, match: str) -> None:
    with pytest.raises(UserError, match=match):
        _build(model, kind, **kwargs)
