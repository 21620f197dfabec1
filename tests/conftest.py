"""Test-wide settings: offline hub, an isolated FTKIT_HOME per test, no progress bars."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# A third-party provider ("echo") declared through the ftkit.providers entry point, as a plugin package
# would be; importlib.metadata finds its dist-info on sys.path.
PLUGINS = Path(__file__).parent / "plugins"
sys.path.insert(0, str(PLUGINS))

# Nothing may reach a model hub; set before any test imports transformers.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Never use a developer's real keys or endpoints by accident.
for _var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "TOGETHER_API_KEY", "TOGETHER_BASE_URL"):
    os.environ.pop(_var, None)


@pytest.fixture(autouse=True)
def ftkit_home(tmp_path, monkeypatch):
    """Each test gets its own job store and caches under a temporary FTKIT_HOME."""
    home = tmp_path / "ftkit-home"
    monkeypatch.setenv("FTKIT_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def smollm(tmp_path_factory: pytest.TempPathFactory) -> str:
    """SmolLM2-135M-Instruct's HF folder, converted from the wheel's GGUF once per test run.

    The conversion cache lives outside the per-test FTKIT_HOME (``FTKIT_GGUF_CACHE``, kept when already set)
    so every test, and every worker process, finds the same 517 MB folder.
    """
    from ftkit.testing.smollm import smollm2_missing_reason, smollm2_model

    reason = smollm2_missing_reason()
    if reason:
        pytest.skip(reason)
    os.environ.setdefault("FTKIT_GGUF_CACHE", str(tmp_path_factory.mktemp("gguf-cache")))
    return str(smollm2_model())
