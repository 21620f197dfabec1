"""``convert``: any supported format to what a provider accepts, losslessly or with a clear error.

>>> convert([{"prompt": "2+2?", "completion": "4"}], "openai")
[{'messages': [{'role': 'user', 'content': '2+2?'}, {'role': 'assistant', 'content': '4'}]}]

Targets: ``openai`` (chat rows, or DPO rows ``input/preferred_output/non_preferred_output``), ``together``
(chat, prompt/completion, text, or the same DPO rows), ``trl`` (TRL's conversational datasets:
``messages``, ``prompt/completion``, ``text``, or ``prompt/chosen/rejected``) and ``chat`` (ftkit's canonical
form, see ``to_chat``). Every row that cannot be expressed in the target is reported at once, with its line.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ftkit.data.checks import check_example
from ftkit.data.codes import CODES
from ftkit.data.formats import PREFERENCE_FORMATS, detect_format, label_text, to_chat
from ftkit.data.report import Issue, ValidationReport
from ftkit.data.source import iter_records
from ftkit.errors import ConfigError, DatasetError

__all__ = ["TARGETS", "convert", "convertible", "label_set"]

TARGETS = ("openai", "together", "trl", "chat")


class _CannotExpress(Exception):
    """A row the target format cannot hold; the message says why."""


def convertible(fmt: str, target: str) -> bool:
    """Whether ``convert`` can turn rows of format ``fmt`` into ``target`` (row-level limits aside).

    Raw text is the one format a chat-only target (OpenAI) cannot express.
    """
    return target in TARGETS and not (target == "openai" and fmt == "text")


def label_set(source: Any) -> list[str]:
    """The sorted labels of a classification dataset (what its system prompt lists)."""
    return sorted({label_text(r["label"]) for _, r in iter_records(source) if detect_format(r) == "classification"})


def _openai_preference(chat: dict[str, Any]) -> dict[str, Any]:
    for side in ("chosen", "rejected"):
        answer = chat[side]
        if len(answer) != 1 or answer[0].get("role") != "assistant":
            raise _CannotExpress(f"{side} must be exactly one assistant message for DPO rows, got {len(answer)} "
                                 "message(s)")
    if not chat["prompt"]:
        raise _CannotExpress("the preference pair has no prompt turns")
    inp: dict[str, Any] = {"messages": chat["prompt"]}
    for key in ("tools", "parallel_tool_calls"):
        if key in chat:
            inp[key] = chat[key]
    return {"input": inp, "preferred_output": chat["chosen"], "non_preferred_output": chat["rejected"]}


def _to_target(example: dict[str, Any], fmt: str, target: str, labels: list[str]) -> dict[str, Any]:
    chat = to_chat(example, labels=labels)
    if target == "chat":
        return chat
    if "chosen" in chat:
        if target == "trl":
            if "parallel_tool_calls" in chat:
                raise _CannotExpress("TRL preference rows have no parallel_tool_calls field")
            return chat
        return _openai_preference(chat)
    if "text" in chat:
        if target == "openai":
            raise _CannotExpress("OpenAI trains chat models on conversations; raw text has no turns "
                                 "(use prompt/completion or chat data)")
        return chat
    if fmt == "prompt_completion" and target in ("together", "trl"):
        return dict(example)  # both accept prompt/completion as it is, with its loss on the completion only
    if target == "trl":
        if any(m.get("weight") == 0 for m in chat["messages"] if isinstance(m, dict)):
            raise _CannotExpress("TRL cannot skip single assistant turns (weight 0); split the conversation or "
                                 "train on the OpenAI / Together provider")
        if "parallel_tool_calls" in chat:
            raise _CannotExpress("TRL chat rows have no parallel_tool_calls field")
    return chat


def _issue(code: str, line: int, message: str, path: str | None = None) -> Issue:
    return Issue(code=code, severity="error", message=message, hint=CODES[code].hint, line=line, path=path)


def convert(
    source: Any,
    target: str,
    *,
    out: str | os.PathLike[str] | None = None,
    method: str | None = None,
    labels: list[str] | None = None,
) -> list[dict[str, Any]] | Path:
    """Convert every row of ``source`` to ``target``'s format.

    Returns the rows, or writes them as JSONL to ``out`` (atomically) and returns its path. ``method``
    ("sft" or "dpo") makes sure the rows fit the training method. Raises ``DatasetError`` listing every row
    with errors or that the target cannot express, and ``ConfigError`` for an unknown target.
    """
    if target not in TARGETS:
        raise ConfigError(f"Unknown conversion target {target!r}; choose one of {', '.join(TARGETS)}.")
    if method not in (None, "sft", "dpo"):
        raise ConfigError(f"Unknown method {method!r}; use 'sft' or 'dpo'.")
    if labels is None:
        labels = label_set(source)
    rows: list[dict[str, Any]] = []
    problems: list[Issue] = []
    for line, example in iter_records(source):
        facts = check_example(example, line)
        errors = [i for i in facts.issues if CODES[i.code].severity == "error"]
        if errors:
            problems += [_issue(i.code, line, i.message, i.path) for i in errors]
            continue
        if method is not None and (facts.format in PREFERENCE_FORMATS) != (method == "dpo"):
            problems.append(_issue("method_mismatch", line, f"{facts.format} data cannot train with {method}"))
            continue
        try:
            rows.append(_to_target(example, facts.format, target, labels))
        except _CannotExpress as e:
            problems.append(_issue("format_not_accepted", line, f"cannot convert to {target}: {e}"))
    if problems:
        raise DatasetError(ValidationReport(ok=False, issues=problems), what=f"data to convert to {target}")
    if out is None:
        return rows
    return _write_jsonl(rows, Path(out))


def _write_jsonl(rows: list[dict[str, Any]], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
