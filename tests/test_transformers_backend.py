"""TransformersBackend on tiny random Llamas: batching invariance, prefix sharing, truncation, pooling, errors."""

from __future__ import annotations

import json
import random
import warnings
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from rmbench.backends.batching import pack_by_budget, shared_prefix_length, truncate  # noqa: E402
from rmbench.backends.transformers.backend import ModelConfig, TransformersBackend  # noqa: E402
from rmbench.errors import UserError  # noqa: E402

TOL = 1e-4


@pytest.fixture(autouse=True, scope="module")
def _one_thread():  # type: ignore[no-untyped-def]
    """Two OpenMP threads on a busy 2-core machine run tiny models ~30x slower than one."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _groups(seed: int, n: int = 24) -> list[list[list[int]]]:
    """Groups of 1-3 sequences sharing a random prompt (0-59 tokens) and 1-14 tokens each of their own;
    some members identical. Long prompts make sharing pay, short ones send the group to the plain path."""
    rng = random.Random(seed)
    groups = []
    for _ in range(n):
        prompt = [rng.randrange(3, 5000) for _ in range(rng.randrange(1, 60))]
        k = rng.choice([1, 2, 2, 3])
        group = [prompt + [rng.randrange(3, 5000) for _ in range(rng.randrange(1, 15))] for _ in range(k)]
        if k == 3:
            group[2] = list(group[1])  # identical responses happen in real data
        groups.append(group)
    return groups


def _starts(groups: list[list[list[int]]], seed: int) -> list[list[int]]:
    rng = random.Random(seed)
    return [[rng.randrange(1, len(s) + 1) for s in g] for g in groups]


def _flat(xs: list[list]) -> list:
    return [x for g in xs for x in g]


def _max_diff(a: list, b: list) -> float:
    if a and isinstance(a[0], list):
        assert [len(x) for x in a] == [len(x) for x in b]
        return max((_max_diff(x, y) for x, y in zip(a, b, strict=True)), default=0.0)
    return max((abs(x - y) for x, y in zip(a, b, strict=True)), default=0.0)


@pytest.fixture(scope="module")
def rm(tiny_rm_dir: Path) -> TransformersBackend:
    return TransformersBackend(ModelConfig(str(tiny_rm_dir), max_batch_size=16))


@pytest.fixture(scope="module")
def rm_bs1(tiny_rm_dir: Path) -> TransformersBackend:
    return TransformersBackend(ModelConfig(str(tiny_rm_dir), max_batch_size=1, prefix_sharing=False))


@pytest.fixture(scope="module")
def lm(tiny_lm_dir: Path) -> TransformersBackend:
    return TransformersBackend(ModelConfig(str(tiny_lm_dir), max_batch_size=16))


@pytest.fixture(scope="module")
def lm_bs1(tiny_lm_dir: Path) -> TransformersBackend:
    return TransformersBackend(ModelConfig(str(tiny_lm_dir), max_batch_size=1, prefix_sharing=False))


# --- pure planning ------------------------------------------------------------------------------
def test_pack_by_budget_respects_budget_and_batch_size() -> None:
    lengths = [random.Random(1).randrange(1, 100) for _ in range(200)]
    plan = pack_by_budget(lengths, token_budget=500, max_batch_size=7)
    assert sorted(i for b in plan for i in b) == list(range(200))
    for batch in plan:
        assert len(batch) <= 7
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= 500


def test_pack_by_budget_with_shared_prefixes_counts_cells() -> None:
    # two groups with long prompts and short rests pack together; the limit counts prefix + rest
    plan = pack_by_budget([100, 98, 10], token_budget=400, max_batch_size=8, rows=[2, 2, 1], prefixes=[90, 90, 0])
    assert sorted(i for b in plan for i in b) == [0, 1, 2] and [0, 1] in plan


def test_truncate_and_shared_prefix() -> None:
    assert truncate([1, 2, 3], 5, "left") == ([1, 2, 3], 0)
    assert shared_prefix_length([[1, 2, 3], [1, 2, 3]]) == 2  # each keeps one token of its own
    assert shared_prefix_length([[1, 2, 3]]) == 0
    assert shared_prefix_length([[5, 2], [1, 2]]) == 0


# --- batching invariance and prefix sharing (fp32) ----------------------------------------------
def test_sequence_scores_do_not_depend_on_batch_size(rm: TransformersBackend, rm_bs1: TransformersBackend) -> None:
    seqs = _flat(_groups(0))
    packed, single = rm.sequence_scores(seqs), rm_bs1.sequence_scores(seqs)
    assert rm.stats.forward_calls < rm_bs1.stats.forward_calls
    assert _max_diff(packed, single) < TOL


def test_token_logprobs_do_not_depend_on_batch_size(lm: TransformersBackend, lm_bs1: TransformersBackend) -> None:
    groups = _groups(1)
    seqs, starts = _flat(groups), _flat(_starts(groups, 1))
    packed, single = lm.token_logprobs(seqs, starts), lm_bs1.token_logprobs(seqs, starts)
    assert [len(x) for x in packed] == [len(s) - st for s, st in zip(seqs, starts, strict=True)]
    assert _max_diff(packed, single) < TOL


def test_prefix_shared_scores_equal_plain_path(rm: TransformersBackend, rm_bs1: TransformersBackend) -> None:
    groups = _groups(2)
    assert rm.describe()["heads"]["seq-cls"]["prefix_sharing"] is True
    before = rm.stats.tokens
    shared = rm.sequence_scores_grouped(groups)
    assert rm.stats.tokens - before < sum(len(s) for s in _flat(groups))  # prompts computed once
    assert [len(g) for g in shared] == [len(g) for g in groups]
    assert _max_diff(_flat(shared), rm_bs1.sequence_scores(_flat(groups))) < TOL


def test_prefix_shared_logprobs_equal_plain_path(lm: TransformersBackend, lm_bs1: TransformersBackend) -> None:
    groups = _groups(3)
    starts = _starts(groups, 3)  # starts fall before, inside and after the shared prefix
    before = lm.stats.tokens
    shared = lm.token_logprobs_grouped(groups, starts)
    assert lm.stats.tokens - before < sum(len(s) for s in _flat(groups))  # prompts computed once
    plain = lm_bs1.token_logprobs(_flat(groups), _flat(starts))
    assert _max_diff(_flat(shared), plain) < TOL


# --- truncation, pooling ------------------------------------------------------------------------
def test_truncation_is_counted_and_keeps_the_configured_side(
    tiny_rm_dir: Path, tiny_lm_dir: Path, rm: TransformersBackend
) -> None:
    seqs = [list(range(10, 30)), list(range(40, 45))]
    left = TransformersBackend(ModelConfig(str(tiny_rm_dir), max_length=8, truncation_side="left"))
    right = TransformersBackend(ModelConfig(str(tiny_rm_dir), max_length=8, truncation_side="right"))
    full = rm
    assert _max_diff(left.sequence_scores(seqs), full.sequence_scores([seqs[0][-8:], seqs[1]])) < TOL
    assert _max_diff(right.sequence_scores(seqs), full.sequence_scores([seqs[0][:8], seqs[1]])) < TOL
    assert (left.stats.truncated_sequences, left.stats.truncated_tokens) == (1, 12)
    assert right.stats.truncated_sequences == 1

    lm = TransformersBackend(ModelConfig(str(tiny_lm_dir), max_length=8, truncation_side="left"))
    out = lm.token_logprobs([seqs[0]], [15])  # 5 response tokens survive (positions 15..19)
    assert len(out[0]) == 5 and lm.stats.truncated_sequences == 1
    out = lm.token_logprobs([seqs[0]], [3])  # the cut reaches into the response: what is left, minus one
    assert len(out[0]) == 7


def test_last_token_pooling_ignores_padding_and_pad_ids_in_text(rm: TransformersBackend) -> None:
    pad = rm.describe() and rm.tokenizer.pad_token_id
    ends_with_pad = [11, 12, 13, pad]  # SmolLM2's pad token is its end-of-turn token
    long = list(range(100, 160))
    runner = rm._runner("seq-cls")
    with torch.inference_mode():
        hidden = runner.base(input_ids=torch.tensor([ends_with_pad])).last_hidden_state
        expected = runner.head(hidden[0, -1])[0].item()
    batched = rm.sequence_scores([long, ends_with_pad, long[:7]])
    assert abs(batched[1] - expected) < TOL
    assert abs(rm.sequence_scores([ends_with_pad])[0] - expected) < TOL


def test_oom_halves_the_batch_and_retries(rm: TransformersBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = rm
    runner = backend._runner("seq-cls")
    real = runner.plain

    def flaky(reqs, stats):  # type: ignore[no-untyped-def]
        if len(reqs) > 2:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(reqs, stats)

    seqs = _flat(_groups(4))
    expected = backend.sequence_scores(seqs)
    monkeypatch.setattr(runner, "plain", flaky)
    assert _max_diff(backend.sequence_scores(seqs), expected) < TOL
    assert backend.stats.oom_retries > 0


# --- configuration, loading, description --------------------------------------------------------
def test_fp16_on_cpu_is_refused(tiny_rm_dir: Path) -> None:
    with pytest.raises(UserError, match="100x slower"):
        TransformersBackend(ModelConfig(str(tiny_rm_dir), dtype="float16", device="cpu"))


def test_dtype_auto_is_float32_on_cpu_and_bf16_only_when_asked(tiny_rm_dir: Path, rm: TransformersBackend) -> None:
    assert rm.config.dtype == "auto" and rm.describe()["dtype"] == "float32"
    with warnings.catch_warnings():  # CPUs without native bf16 warn that it is slow
        warnings.simplefilter("ignore")
        bf16 = TransformersBackend(ModelConfig(str(tiny_rm_dir), dtype="bfloat16", device="cpu"))
    assert bf16.describe()["dtype"] == "bfloat16"
    assert len(bf16.sequence_scores([[5, 6, 7]])) == 1


def test_missing_local_path_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(UserError) as info:
        TransformersBackend(ModelConfig(str(missing)))
    assert str(missing) in str(info.value) and info.value.hint


def test_unreachable_hub_id_is_a_user_error() -> None:
    with pytest.raises(UserError, match="Hugging Face Hub") as info:
        TransformersBackend(ModelConfig("rmbench-test/definitely-not-a-model", revision="main"))
    assert "offline" in (info.value.hint or "")


def test_describe_records_hashes_and_settings(rm: TransformersBackend) -> None:
    d = rm.describe()
    assert d["source"] == "local" and len(d["weights_sha256"]) == 16
    assert len(d["tokenizer_sha256"]) == 16 and len(d["chat_template_sha256"]) == 16
    assert d["padding_side"] == "right" and d["device"] == "cpu" and d["truncation_side"] == "left"
    head = d["heads"]["seq-cls"]
    assert head["model_class"] == "LlamaForSequenceClassification" and head["label_index"] == 0
    assert "last real token" in head["pooling"]
    json.dumps(d)


def test_missing_pad_token_and_multi_label_head_are_recorded(smollm2_dir: Path, tmp_path: Path) -> None:
    from rmbench.testing.tiny import build_tiny_model

    folder = build_tiny_model(tmp_path / "rm3", kind="seq-cls", tokenizer_dir=smollm2_dir, num_labels=3)
    config = json.loads((folder / "config.json").read_text())
    config.pop("pad_token_id", None)
    (folder / "config.json").write_text(json.dumps(config))
    backend = TransformersBackend(ModelConfig(str(folder)))
    backend.prepare("sequence_scores")
    head = backend.describe()["heads"]["seq-cls"]
    assert "set to" in head["pad_token_id"]
    assert (head["num_labels"], head["label_index"]) == (3, 2)
    assert len(backend.sequence_scores([[5, 6, 7], [8, 9]])) == 2
    with pytest.raises(UserError, match="label index"):
        TransformersBackend(ModelConfig(str(folder), label_index=3)).prepare("sequence_scores")


def test_bad_starts_are_rejected(lm: TransformersBackend) -> None:
    with pytest.raises(ValueError, match="no context"):
        lm.token_logprobs([[1, 2, 3]], [0])
    assert lm.token_logprobs([[1, 2, 3]], [3]) == [[]]
