"""Turn a job's JSONL files (any format of :mod:`ftkit.data.formats`) into the rows TRL trains on.

SFT gets ``{"messages": [...]}`` (rendered by the tokenizer's chat template, so assistant-only loss
works through its ``{% generation %}`` markers), ``{"prompt", "completion"}`` (loss on the completion)
or ``{"text": ...}``; DPO gets conversational ``{"prompt", "chosen", "rejected"}`` message lists.
The conversion itself is :func:`ftkit.data.convert`'s ``"trl"`` target, shared with ``ftkit convert``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftkit.data import convert
from ftkit.errors import ConfigError
from ftkit.spec import Method

__all__ = ["load_rows"]


def load_rows(path: str | Path, method: Method) -> list[dict[str, Any]]:
    """The examples of ``path`` in TRL's form for ``method`` (any ftkit input format)."""
    rows = convert(str(path), "trl", method=method.value)
    if not rows:
        raise ConfigError(f"{path} holds no examples.")
    if len({"text" in r for r in rows}) > 1:
        raise ConfigError(f"{path} mixes raw text and chat examples; split them into separate jobs.")
    return rows
