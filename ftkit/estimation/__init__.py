"""Pre-flight estimates: tokens, billed tokens, cost, GPU memory and time, offline.

>>> from ftkit.estimation import plan
>>> rows = [{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}] * 50
>>> [round(e.cost_usd, 4) for e in plan(rows, targets=[("openai", "gpt-4o-mini-2024-07-18")])]
[0.0058]

The functions are imported on first use, so ``import ftkit`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

from ftkit.estimation.types import Estimate, GpuFit, TokenCount

__all__ = [
    "Breakeven",
    "Catalog",
    "Estimate",
    "GpuFit",
    "TokenCount",
    "TokenCounter",
    "availability_problems",
    "breakeven",
    "estimate_spec",
    "load_catalog",
    "load_gpus",
    "plan",
    "token_counter",
]

_LAZY = {
    "Breakeven": "ftkit.estimation.compare",
    "breakeven": "ftkit.estimation.compare",
    "estimate_spec": "ftkit.estimation.compare",
    "plan": "ftkit.estimation.compare",
    "Catalog": "ftkit.estimation.catalog",
    "availability_problems": "ftkit.estimation.catalog",
    "load_catalog": "ftkit.estimation.catalog",
    "load_gpus": "ftkit.estimation.gpus",
    "TokenCounter": "ftkit.estimation.tokens",
    "token_counter": "ftkit.estimation.tokens",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ftkit.estimation' has no attribute {name!r}")
