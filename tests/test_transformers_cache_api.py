"""The shared-prefix path passes its KV cache under transformers' current argument name.

transformers 5 renamed ``past_key_values`` to ``cache`` (the old name warns on every forward and goes
away in 5.40); a forward through rmbench must raise no deprecation warning, so an upgrade cannot
break scoring silently.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from rmbench.backends.transformers.backend import ModelConfig, TransformersBackend

PROMPT = list(range(100, 160))
GROUP = [PROMPT + [7, 8, 9], PROMPT + [11, 12], PROMPT + [13, 14, 15, 16]]


def _no_deprecation_warnings(call):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        warnings.simplefilter("error", DeprecationWarning)
        return call()


@pytest.mark.parametrize("method", ["sequence_scores_grouped", "token_logprobs_grouped"])
def test_shared_prefix_forward_emits_no_deprecation_warning(
    method: str, tiny_rm_dir: Path, tiny_lm_dir: Path
) -> None:
    folder = tiny_rm_dir if method == "sequence_scores_grouped" else tiny_lm_dir
    backend = TransformersBackend(ModelConfig(str(folder), batch_cost=0))
    if method == "sequence_scores_grouped":
        grouped = _no_deprecation_warnings(lambda: backend.sequence_scores_grouped([GROUP]))
        assert backend.stats.forward_calls == 2  # the shared path ran: one prefix pass, one suffix pass
        plain = backend.sequence_scores(GROUP)
        assert max(abs(a - b) for a, b in zip(grouped[0], plain, strict=True)) < 1e-4
    else:
        starts = [[len(PROMPT)] * len(GROUP)]
        grouped = _no_deprecation_warnings(lambda: backend.token_logprobs_grouped([GROUP], starts))
        assert backend.stats.forward_calls == 2
        plain = backend.token_logprobs(GROUP, starts[0])
        flat_g = [x for row in grouped[0] for x in row]
        flat_p = [x for row in plain for x in row]
        assert max(abs(a - b) for a, b in zip(flat_g, flat_p, strict=True)) < 1e-4
