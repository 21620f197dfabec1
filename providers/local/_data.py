"""Turn a job's JSONL files (any format of :mod:`ftkit.data.formats`) into the rows TRL trains on.

SFT gets ``{"messages": [...]}`` (rendered by the tokenizer's chat template, so assistant-only loss
works through its ``{% generation %}`` markers) or ``{"text": ...}``; DPO gets conversational
``{"prompt", "chosen", "rejected"}`` message lists.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ftkit.data.formats import PREFERENCE_FORMATS, detect_format, to_chat
from ftkit.errors import ConfigError
from ftkit.spec import Method

__all__ = ["file_sha256", "load_rows"]


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    rows = []
    with Path(path).open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ConfigError(f"{path}, line {number}: not valid JSON ({e.msg}); run `ftkit validate`.") from None
    if not rows:
        raise ConfigError(f"{path} holds no examples.")
    return rows


def load_rows(path: str | Path, method: Method) -> list[dict[str, Any]]:
    """The examples of ``path`` in TRL's form for ``method``."""
    raw = _read_jsonl(path)
    fmt = detect_format(raw[0])
    is_preference = fmt in PREFERENCE_FORMATS
    if method == Method.DPO and not is_preference:
        raise ConfigError(
            f"method='dpo' needs preference data (prompt/chosen/rejected, or OpenAI's preferred_output format); "
            f"{path} looks like {fmt!r} data."
        )
    if method == Method.SFT and is_preference:
        raise ConfigError(f"{path} holds preference pairs ({fmt!r}); train it with method='dpo'.")
    labels = sorted({str(r["label"]) for r in raw if "label" in r}) if fmt == "classification" else None
    rows = [to_chat(r, labels=labels) for r in raw]
    if method == Method.DPO:
        return [{"prompt": r["prompt"], "chosen": r["chosen"], "rejected": r["rejected"]} for r in rows]
    if any("text" in r for r in rows) and any("messages" in r for r in rows):
        raise ConfigError(f"{path} mixes raw text and chat examples; split them into separate jobs.")
    return rows
