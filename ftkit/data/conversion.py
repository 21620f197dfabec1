"""``convert``: any supported format to what a provider accepts, losslessly or with a clear error.

>>> convert([{"prompt": "2+2?", "completion": "4"}], "messages")
[{'messages': [{'role': 'user', 'content': '2+2?'}, {'role': 'assistant', 'content': '4'}]}]

Targets are *formats*, named for what they hold; each provider declares the one its uploads use
(``Provider.data_format``), and ``convert(rows, "<provider name>")`` resolves it through the registry:

* ``chat``: ftkit's canonical form (see ``to_chat``);
* ``messages``: chat rows only, preference pairs as ``input/preferred_output/non_preferred_output`` (the
  OpenAI-style fine-tuning APIs); raw text cannot be expressed;
* ``messages_or_completion``: the same, plus prompt/completion and raw text rows kept as they are;
* ``trl``: TRL's conversational datasets (``messages``, ``prompt/completion``, ``text``,
  ``prompt/chosen/rejected``).

A plugin provider with a format of its own declares a :class:`DataFormat` (a name and a row converter).
Every row that cannot be expressed in the target is reported at once, with its line.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftkit.data.checks import check_example
from ftkit.data.codes import CODES
from ftkit.data.formats import PREFERENCE_FORMATS, detect_format, label_text, to_chat
from ftkit.data.report import Issue, ValidationReport
from ftkit.data.source import iter_records, refuse_to_replace
from ftkit.errors import ConfigError, DatasetError

__all__ = ["FORMATS", "CannotExpress", "DataFormat", "convert", "convertible", "label_set", "resolve_format"]


class CannotExpress(Exception):
    """A row the target format cannot hold; the message says why (raised by row converters)."""


@dataclass(frozen=True)
class DataFormat:
    """A conversion target: ``convert_row(example, fmt, chat)`` returns the row to upload, or raises
    :class:`CannotExpress`. ``fmt`` is the example's ``detect_format`` name and ``chat`` its canonical form.

    >>> upper = DataFormat("shouting", lambda example, fmt, chat: {"TEXT": str(chat).upper()},
    ...                    cannot_hold=frozenset({"text"}))
    >>> upper.can_hold("chat"), upper.can_hold("text")
    (True, False)
    """

    name: str
    convert_row: Callable[[dict[str, Any], str, dict[str, Any]], dict[str, Any]]
    #: input formats no row of which can be expressed (validation reports them once, for the whole file)
    cannot_hold: frozenset[str] = frozenset()
    description: str = ""

    def can_hold(self, fmt: str) -> bool:
        return fmt not in self.cannot_hold


def _preference_pair(chat: dict[str, Any]) -> dict[str, Any]:
    for side in ("chosen", "rejected"):
        answer = chat[side]
        if len(answer) != 1 or answer[0].get("role") != "assistant":
            raise CannotExpress(f"{side} must be exactly one assistant message for DPO rows, got {len(answer)} "
                                "message(s)")
    if not chat["prompt"]:
        raise CannotExpress("the preference pair has no prompt turns")
    inp: dict[str, Any] = {"messages": chat["prompt"]}
    for key in ("tools", "parallel_tool_calls"):
        if key in chat:
            inp[key] = chat[key]
    return {"input": inp, "preferred_output": chat["chosen"], "non_preferred_output": chat["rejected"]}


def _canonical(example: dict[str, Any], fmt: str, chat: dict[str, Any]) -> dict[str, Any]:
    return chat


def _messages(example: dict[str, Any], fmt: str, chat: dict[str, Any]) -> dict[str, Any]:
    if "chosen" in chat:
        return _preference_pair(chat)
    if "text" in chat:
        raise CannotExpress("chat fine-tuning trains on conversations; raw text has no turns "
                            "(use prompt/completion or chat data)")
    return chat


def _messages_or_completion(example: dict[str, Any], fmt: str, chat: dict[str, Any]) -> dict[str, Any]:
    if "chosen" in chat:
        return _preference_pair(chat)
    if fmt == "prompt_completion":
        return dict(example)  # accepted as it is, with the loss on the completion only
    return chat


def _trl(example: dict[str, Any], fmt: str, chat: dict[str, Any]) -> dict[str, Any]:
    if "chosen" in chat:
        if "parallel_tool_calls" in chat:
            raise CannotExpress("TRL preference rows have no parallel_tool_calls field")
        return chat
    if "text" in chat:
        return chat
    if fmt == "prompt_completion":
        return dict(example)
    if any(m.get("weight") == 0 for m in chat["messages"] if isinstance(m, dict)):
        raise CannotExpress("TRL cannot skip single assistant turns (weight 0); split the conversation or "
                            "train on a provider that honours weights")
    if "parallel_tool_calls" in chat:
        raise CannotExpress("TRL chat rows have no parallel_tool_calls field")
    return chat


FORMATS: dict[str, DataFormat] = {
    f.name: f
    for f in (
        DataFormat("chat", _canonical, description="ftkit's canonical chat rows"),
        DataFormat("messages", _messages, cannot_hold=frozenset({"text"}),
                   description="chat rows; DPO as input/preferred_output/non_preferred_output"),
        DataFormat("messages_or_completion", _messages_or_completion,
                   description="chat, prompt/completion or text rows; DPO as input/preferred_output/..."),
        DataFormat("trl", _trl, description="TRL conversational datasets"),
    )
}


def resolve_format(target: str | DataFormat) -> DataFormat:
    """A :class:`DataFormat` from a format name, a provider name (its declared ``data_format``) or itself."""
    if isinstance(target, DataFormat):
        return target
    if target in FORMATS:
        return FORMATS[target]
    from ftkit.errors import UnknownProviderError
    from ftkit.registry import get_provider

    try:
        declared = get_provider(target).data_format
    except UnknownProviderError:
        raise ConfigError(
            f"Unknown conversion target {target!r}: name a format ({', '.join(FORMATS)}) or a provider "
            "(`ftkit providers` lists them)."
        ) from None
    return declared if isinstance(declared, DataFormat) else resolve_format(declared)


def convertible(fmt: str, target: str | DataFormat) -> bool:
    """Whether ``convert`` can turn rows of format ``fmt`` into ``target`` (row-level limits aside).

    >>> convertible("text", "messages"), convertible("text", "trl")
    (False, True)
    """
    try:
        return resolve_format(target).can_hold(fmt)
    except ConfigError:
        return False


def label_set(source: Any) -> list[str]:
    """The sorted labels of a classification dataset (what its system prompt lists)."""
    return sorted({label_text(r["label"]) for _, r in iter_records(source) if detect_format(r) == "classification"})


def _issue(code: str, line: int, message: str, path: str | None = None) -> Issue:
    return Issue(code=code, severity="error", message=message, hint=CODES[code].hint, line=line, path=path)


def convert(
    source: Any,
    target: str | DataFormat,
    *,
    out: str | os.PathLike[str] | None = None,
    method: str | None = None,
    labels: list[str] | None = None,
    overwrite: bool = False,
) -> list[dict[str, Any]] | Path:
    """Convert every row of ``source`` to ``target`` (a format name, a provider name or a DataFormat).

    Returns the rows, or writes them as JSONL to ``out`` (atomically) and returns its path. ``method``
    ("sft" or "dpo") makes sure the rows fit the training method. Raises ``DatasetError`` listing every row
    with errors or that the target cannot express, and ``ConfigError`` for an unknown target or an ``out``
    that already exists (unless ``overwrite=True``).
    """
    data_format = resolve_format(target)
    if out is not None:
        refuse_to_replace([Path(out)], overwrite=overwrite, what="convert")
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
            rows.append(data_format.convert_row(example, facts.format, to_chat(example, labels=labels)))
        except CannotExpress as e:
            problems.append(_issue("format_not_accepted", line, f"cannot convert to {data_format.name}: {e}"))
    if problems:
        raise DatasetError(ValidationReport(ok=False, issues=problems),
                           what=f"data to convert to {data_format.name}")
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
