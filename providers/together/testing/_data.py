"""What the Together emulator does with uploaded data: Together's server-side format check, a
deterministic token count for billing, and the "memory" its fine-tuned models answer from.

The format rules follow Together's documented ones (and the stricter 1.x client check): one known
format per line and the same on every line, no unknown top-level keys, roles in
system/user/assistant(/tool), at least one assistant turn, preference rows with exactly one preferred
and one non-preferred assistant message. The first problem is reported the way Together does, in
``validation_report.error`` with ``error_type: "INVALID_FORMAT"``.

ASSUMPTION: the token count (a deterministic word-piece count, not a model tokenizer) and the wording of
the validation errors; Together counts with the model's tokenizer after its chat template.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DatasetSummary", "answer_memory", "check_dataset", "count_tokens", "normalise_prompt"]

_FORMATS: dict[str, frozenset[str]] = {
    "GENERAL": frozenset({"text"}),
    "CONVERSATION": frozenset({"messages", "tools"}),
    "INSTRUCTION": frozenset({"prompt", "completion"}),
    "PREFERENCE": frozenset({"input", "preferred_output", "non_preferred_output"}),
}
_SIGNATURES = {"GENERAL": "text", "CONVERSATION": "messages", "INSTRUCTION": "prompt", "PREFERENCE": "input"}
_ROLES = {"system", "user", "assistant", "tool"}
_TOKEN = re.compile(r"\w+|[^\w\s]")
#: tokens a chat template adds around each message (role markers, separators)
_PER_MESSAGE = 4


def count_tokens(text: str) -> int:
    """Words and punctuation marks: a stable stand-in for a tokenizer (billing is per token)."""
    return len(_TOKEN.findall(text or ""))


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


@dataclass
class DatasetSummary:
    """What the emulator learnt from a valid file: format, rows, tokens and prompt -> answer pairs."""

    dataset_format: str
    lines: int
    tokens: int
    pairs: list[tuple[str, str]] = field(default_factory=list)


class InvalidFormat(ValueError):
    """The file breaks Together's format rules; the message is what ``validation_report.error`` says."""


def check_dataset(content: bytes) -> DatasetSummary:
    """Validate a JSONL file the way Together's pipeline does; raise :class:`InvalidFormat`."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidFormat("File is not valid UTF-8.") from None
    fmt: str | None = None
    lines = tokens = 0
    pairs: list[tuple[str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise InvalidFormat(f"Error parsing file. Invalid JSON on line {number}.") from None
        if not isinstance(row, dict):
            raise InvalidFormat(f"Error parsing file. Line {number} is not a JSON object.")
        row_format = _detect(row, number)
        if fmt is None:
            fmt = row_format
        elif row_format != fmt:
            raise InvalidFormat(
                f"All samples in the dataset must have the same dataset format. Line {number} is "
                f"{row_format.lower()}, but earlier lines are {fmt.lower()}."
            )
        unknown = set(row) - _FORMATS[row_format] - {"weight"}
        if unknown:
            raise InvalidFormat(f"Line {number}: unexpected field(s) {sorted(unknown)} for the {row_format.lower()} format.")
        row_tokens, pair = _check_row(row, row_format, number)
        tokens += row_tokens
        if pair:
            pairs.append(pair)
        lines += 1
    if not lines:
        raise InvalidFormat("The dataset is empty: at least 1 sample is required.")
    assert fmt is not None
    return DatasetSummary(fmt, lines, tokens, pairs)


def _detect(row: dict[str, Any], number: int) -> str:
    found = [name for name, key in _SIGNATURES.items() if key in row]
    if "text" in row and len(found) > 1:
        found.remove("GENERAL")
    if len(found) != 1:
        raise InvalidFormat(
            f"Line {number}: could not detect the dataset format; expected one of "
            "'text', 'messages', 'prompt'/'completion' or 'input'/'preferred_output'/'non_preferred_output'."
        )
    return found[0]


def _check_messages(messages: Any, number: int, where: str, *, need_assistant: bool) -> tuple[int, list[dict]]:
    if not isinstance(messages, list) or not messages:
        raise InvalidFormat(f"Line {number}: '{where}' must be a non-empty list of messages.")
    tokens = 0
    previous = None
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message:
            raise InvalidFormat(f"Line {number}: {where}[{index}] must be an object with 'role' and 'content'.")
        role = message["role"]
        if role not in _ROLES:
            raise InvalidFormat(f"Line {number}: {where}[{index}] has invalid role {role!r}.")
        if role == previous and role != "tool":
            raise InvalidFormat(f"Line {number}: {where}[{index}] repeats the role {role!r} of the message before it.")
        if "content" not in message and "tool_calls" not in message:
            raise InvalidFormat(f"Line {number}: {where}[{index}] has no 'content'.")
        weight = message.get("weight")
        if weight is not None and weight not in (0, 1):
            raise InvalidFormat(f"Line {number}: {where}[{index}].weight must be 0 or 1.")
        tokens += count_tokens(_content_text(message.get("content"))) + _PER_MESSAGE
        previous = role
    if need_assistant and not any(m["role"] == "assistant" for m in messages):
        raise InvalidFormat(f"Line {number}: the conversation has no assistant message to train on.")
    return tokens, messages


def _check_row(row: dict[str, Any], fmt: str, number: int) -> tuple[int, tuple[str, str] | None]:
    if fmt == "GENERAL":
        if not isinstance(row["text"], str):
            raise InvalidFormat(f"Line {number}: 'text' must be a string.")
        return count_tokens(row["text"]), None
    if fmt == "INSTRUCTION":
        if not isinstance(row.get("prompt"), str) or not isinstance(row.get("completion"), str):
            raise InvalidFormat(f"Line {number}: 'prompt' and 'completion' must both be strings.")
        return count_tokens(row["prompt"]) + count_tokens(row["completion"]), (row["prompt"], row["completion"])
    if fmt == "CONVERSATION":
        tokens, messages = _check_messages(row["messages"], number, "messages", need_assistant=True)
        return tokens, _last_exchange(messages)
    # PREFERENCE
    inp = row.get("input")
    if not isinstance(inp, dict) or "messages" not in inp:
        raise InvalidFormat(f"Line {number}: 'input' must be an object with 'messages'.")
    tokens, messages = _check_messages(inp["messages"], number, "input.messages", need_assistant=False)
    if messages[-1]["role"] == "assistant":
        raise InvalidFormat(f"Line {number}: 'input.messages' must not end with an assistant message.")
    answers = []
    for key in ("preferred_output", "non_preferred_output"):
        output = row.get(key)
        if not (isinstance(output, list) and len(output) == 1 and isinstance(output[0], dict)
                and output[0].get("role") == "assistant"):  # fmt: skip
            raise InvalidFormat(f"Line {number}: '{key}' must be a list with exactly one assistant message.")
        tokens += count_tokens(_content_text(output[0].get("content"))) + _PER_MESSAGE
        answers.append(_content_text(output[0].get("content")))
    user = next((m for m in reversed(messages) if m["role"] == "user"), None)
    return tokens, (_content_text(user.get("content")), answers[0]) if user else None


def _last_exchange(messages: list[dict[str, Any]]) -> tuple[str, str] | None:
    """(last user turn, the assistant turn answering it), the pair a fine-tune learns to reproduce."""
    for index in range(len(messages) - 1, 0, -1):
        if messages[index]["role"] == "assistant" and messages[index - 1]["role"] == "user":
            return _content_text(messages[index - 1].get("content")), _content_text(messages[index].get("content"))
    return None


def normalise_prompt(text: str) -> str:
    return " ".join(_TOKEN.findall((text or "").lower()))


def answer_memory(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Normalised prompt -> the answer trained for it (the last one wins, as in training)."""
    return {normalise_prompt(prompt): answer for prompt, answer in pairs}
