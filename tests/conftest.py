"""Shared test fixtures: an offline Hugging Face environment, the data folder and small real models.

Sections: environment (runs at import, before any test module imports transformers), markers,
data, models. Model fixtures are session-scoped; SmolLM2 is converted from its GGUF once per cache
(``$RMBENCH_CACHE`` if set, else the per-user rmbench cache), so repeated local runs reuse it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# --- environment ------------------------------------------------------------------------------
# No Hub access here: fail fast instead of hanging, and never touch the user's real HF cache.
for _flag in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_flag, "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
_HF_HOME = tempfile.mkdtemp(prefix="rmbench-test-hf-home-")
os.environ["HF_HOME"] = _HF_HOME
atexit.register(shutil.rmtree, _HF_HOME, ignore_errors=True)
# The score cache (rmbench.cache) is off unless a test turns it on: a test comparing two runs must
# compare two computations, and no test may read scores another session left in $RMBENCH_CACHE.
os.environ["RMBENCH_SCORE_CACHE"] = "off"

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data"


# --- markers ----------------------------------------------------------------------------------
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: loads a real small model for generation (deselect with -m 'not slow')"
    )


# --- data -------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real benchmark files: ``$RMBENCH_DATA_DIR``, else ``<repo>/../shared/data``."""
    path = Path(os.environ.get("RMBENCH_DATA_DIR", DEFAULT_DATA_DIR))
    if not path.is_dir():
        pytest.skip(f"benchmark data folder not found at {path} (set RMBENCH_DATA_DIR)")
    return path


# --- models -----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """SmolLM2-135M-Instruct as a local HF folder (float32 safetensors, tokenizer, chat template)."""
    from rmbench.backends.embedded import resolve_embedded

    return resolve_embedded("smollm2-135m-instruct")


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory: pytest.TempPathFactory, smollm2_dir: Path) -> Path:
    """A tiny random ``LlamaForCausalLM`` with SmolLM2's tokenizer and chat template (seed 0)."""
    from rmbench.testing.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-lm"), kind="causal-lm", tokenizer_dir=smollm2_dir)


@pytest.fixture(scope="session")
def tiny_rm_dir(tmp_path_factory: pytest.TempPathFactory, smollm2_dir: Path) -> Path:
    """A tiny random ``LlamaForSequenceClassification`` (one label: a scalar reward; seed 0)."""
    from rmbench.testing.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-rm"), kind="seq-cls", tokenizer_dir=smollm2_dir)


@pytest.fixture(scope="session")
def tiny_tokcls_dir(tmp_path_factory: pytest.TempPathFactory, smollm2_dir: Path) -> Path:
    """A tiny random ``LlamaForTokenClassification`` (two labels per token; seed 0)."""
    from rmbench.testing.tiny import build_tiny_model

    return build_tiny_model(
        tmp_path_factory.mktemp("tiny-tokcls"), kind="token-cls", tokenizer_dir=smollm2_dir
    )
