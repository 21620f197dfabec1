"""Turn a job's JSONL files (any format of :mod:`ftkit.data.formats`) into the rows TRL trains on.

SFT gets ``{"messages": [...]}`` (with assistant-only loss, tokenized here by
:func:`tokenize_for_assistant_loss` for any chat template), ``{"prompt", "completion"}`` (loss on the
completion) or ``{"text": ...}``; DPO gets conversational ``{"prompt", "chosen", "rejected"}`` message lists.
The conversion itself is :func:`ftkit.data.convert`'s ``"trl"`` target, shared with ``ftkit convert``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftkit.data import convert
from ftkit.errors import ConfigError
from ftkit.spec import Method

__all__ = ["load_rows", "tokenize_for_assistant_loss"]


def load_rows(path: str | Path, method: Method) -> list[dict[str, Any]]:
    """The examples of ``path`` in TRL's form for ``method`` (any ftkit input format)."""
    rows = convert(str(path), "trl", method=method.value)
    if not rows:
        raise ConfigError(f"{path} holds no examples.")
    if len({"text" in r for r in rows}) > 1:
        raise ConfigError(f"{path} mixes raw text and chat examples; split them into separate jobs.")
    return rows


def tokenize_for_assistant_loss(rows: list[dict[str, Any]], tokenizer: Any, *, source: str) -> list[dict[str, Any]]:
    """Chat rows as ``input_ids`` + ``assistant_masks`` (TRL builds labels from the mask): assistant-only loss
    for any chat template, with or without ``{% generation %}`` markers (see :mod:`._assistant_spans`)."""
    from ._assistant_spans import UnlocatedAnswer, framing_of, has_generation_markers, tokenize_conversation

    template = tokenizer.chat_template
    framing = None if has_generation_markers(template) else framing_of(tokenizer, template)
    out, problems = [], []
    for number, row in enumerate(rows, start=1):
        try:
            out.append(tokenize_conversation(tokenizer, row["messages"], row.get("tools"), template=template,
                                             framing=framing))
        except UnlocatedAnswer as e:
            problems.append(f"example {number}: {e}")
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise ConfigError(
            f"Assistant-only loss cannot find the answers of {len(problems)} example(s) of {source} in the chat "
            f"template's output: {shown}. Fix those examples (FineTuneJob.validate() lists them by line), pass "
            "options={'chat_template': ...} with a template that renders them, or set options={'loss_on': 'all'}."
        )
    return out
