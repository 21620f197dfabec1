"""The special tokens of a model's tokenizer, read from its files (no transformers import).

Text such as ``<|im_end|>`` inside a message is tokenized as the control token itself by many
tokenizers, which ends turns early or teaches the model to emit it; the validator warns about it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["special_tokens_for", "special_tokens_in_dir"]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def special_tokens_in_dir(directory: Path) -> set[str]:
    """Special tokens declared in ``tokenizer.json`` (``added_tokens``) and ``tokenizer_config.json``."""
    found: set[str] = set()
    tokenizer = _read_json(directory / "tokenizer.json")
    if isinstance(tokenizer, dict):
        for token in tokenizer.get("added_tokens") or []:
            if isinstance(token, dict) and token.get("special") and isinstance(token.get("content"), str):
                found.add(token["content"])
    config = _read_json(directory / "tokenizer_config.json")
    if isinstance(config, dict):
        for token in (config.get("added_tokens_decoder") or {}).values():
            if isinstance(token, dict) and token.get("special") and isinstance(token.get("content"), str):
                found.add(token["content"])
        for key in ("bos_token", "eos_token", "pad_token", "unk_token"):
            value = config.get(key)
            value = value.get("content") if isinstance(value, dict) else value
            if isinstance(value, str):
                found.add(value)
        for value in config.get("extra_special_tokens") or config.get("additional_special_tokens") or []:
            if isinstance(value, str):
                found.add(value)
    # Single characters (byte-level fallbacks, "<s>"-less tokenizers) would match ordinary text.
    return {t for t in found if len(t) > 2}


def special_tokens_for(provider: str | None, model: str | None, tokenizer_dir: str | None = None) -> tuple[str, ...]:
    """The special tokens to look for in content: from a local tokenizer if one is found, else those the
    provider declares reserved (``Provider.reserved_tokens``)."""
    directory: Path | None = Path(tokenizer_dir) if tokenizer_dir else None
    if directory is None and model:
        try:
            from ftkit.estimation.modeldir import find_model_dir

            directory = find_model_dir(model, needs="tokenizer.json")
        except Exception:  # a broken cache entry must not stop validation
            directory = None
    if directory is not None and directory.is_dir():
        return tuple(sorted(special_tokens_in_dir(directory)))
    if provider:
        from ftkit.errors import FtkitError
        from ftkit.registry import get_provider

        try:
            return tuple(get_provider(provider).reserved_tokens(model))
        except FtkitError:  # an unknown or uninstalled provider has no rules to check against
            return ()
    return ()
