"""What the Fireworks emulator does with an uploaded dataset: Fireworks' documented format rules, a
deterministic token count, and the prompt -> answer memory its fine-tuned models answer from.

Rules (docs.fireworks.ai/fine-tuning/fine-tuning-models, "Prepare a dataset", and
docs.fireworks.ai/fine-tuning/dpo-fine-tuning, read 2026-12-01): JSONL, at least 3 and at most 3,000,000
examples. SFT rows have a ``messages`` array of ``{role, content}`` where role is system/user/assistant, a
system message only first, ``weight`` optional and 0 or 1; tool calling rows (``tools``, ``tool_calls``,
role ``tool``) are accepted as in the OpenAI format the docs say Fireworks reads. DPO rows have
``input.messages`` and ``preferred_output`` / ``non_preferred_output``. *Assumptions* (not documented): the
first broken line is reported in the error message; each output is a list of exactly one assistant
message (OpenAI's preference format, which Fireworks' field names follow); one file holds one kind of row.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DatasetSummary", "InvalidDataset", "check_dataset", "count_tokens", "normalise_prompt", "recall"]

MIN_EXAMPLES = 3
MAX_EXAMPLES = 3_000_000
_ROLES = {"system", "user", "assistant", "tool"}
_MESSAGE_KEYS = {"role", "content", "weight", "name", "tool_calls", "tool_call_id", "reasoning_content"}
_TOKEN = re.compile(r"\w+|[^\w\s]")


class InvalidDataset(ValueError):
    """The file breaks Fireworks' dataset rules; the message is what the service answers."""


@dataclass
class DatasetSummary:
    examples: int
    tokens: int
    pairs: list[tuple[str, str]] = field(default_factory=list)
    #: "chat" (SFT rows) or "preference" (DPO rows)
    kind: str = "chat"


def count_tokens(text: str) -> int:
    """Words and punctuation marks: a stable stand-in for a tokenizer (billing is per token)."""
    return len(_TOKEN.findall(text or ""))


def normalise_prompt(text: str) -> str:
    return " ".join(_TOKEN.findall((text or "").lower()))


def check_dataset(content: bytes) -> DatasetSummary:
    """Validate a chat JSONL dataset the way Fireworks documents it; raise :class:`InvalidDataset`."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidDataset("dataset is not valid UTF-8") from None
    examples = tokens = 0
    pairs: list[tuple[str, str]] = []
    kind: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise InvalidDataset(f"line {number}: not valid JSON") from None
        row_kind = "preference" if isinstance(row, dict) and "input" in row else "chat"
        if kind is not None and row_kind != kind:
            raise InvalidDataset(f"line {number}: a {row_kind} row in a file of {kind} rows")
        kind = row_kind
        if row_kind == "preference":
            tokens += _check_preference(row, number)
            examples += 1
            user = next((str(m.get("content") or "") for m in row["input"]["messages"] if m.get("role") == "user"), "")
            pairs.append((normalise_prompt(user), str(row["preferred_output"][0].get("content") or "")))
            continue
        if not isinstance(row, dict) or not isinstance(row.get("messages"), list) or not row["messages"]:
            raise InvalidDataset(f"line {number}: each example needs a non-empty 'messages' array")
        unknown = sorted(set(row) - {"messages", "tools", "parallel_tool_calls"})
        if unknown:
            raise InvalidDataset(f"line {number}: unknown field {unknown[0]!r}")
        tokens += _check_messages(row["messages"], number)
        examples += 1
        user = next((str(m.get("content") or "") for m in row["messages"] if m.get("role") == "user"), "")
        answer = next((str(m.get("content") or "") for m in reversed(row["messages"]) if m.get("role") == "assistant"), "")
        pairs.append((normalise_prompt(user), answer))
    if examples < MIN_EXAMPLES:
        raise InvalidDataset(f"dataset has {examples} examples; at least {MIN_EXAMPLES} are required")
    if examples > MAX_EXAMPLES:
        raise InvalidDataset(f"dataset has {examples} examples; at most {MAX_EXAMPLES} are allowed")
    return DatasetSummary(examples, tokens, pairs, kind or "chat")


def _check_preference(row: Any, number: int) -> int:
    unknown = sorted(set(row) - {"input", "preferred_output", "non_preferred_output"})
    if unknown:
        raise InvalidDataset(f"line {number}: unknown field {unknown[0]!r}")
    source = row.get("input")
    if not isinstance(source, dict) or not isinstance(source.get("messages"), list) or not source["messages"]:
        raise InvalidDataset(f"line {number}: input needs a non-empty 'messages' array")
    tokens = _check_messages(source["messages"], number, need_assistant=False)
    for key in ("preferred_output", "non_preferred_output"):
        output = row.get(key)
        if not isinstance(output, list) or len(output) != 1 or not isinstance(output[0], dict) or \
                output[0].get("role") != "assistant":
            raise InvalidDataset(f"line {number}: {key} must be a list of one assistant message")
        tokens += _check_messages(output, number)
    return tokens


def _check_messages(messages: list[Any], number: int, *, need_assistant: bool = True) -> int:
    tokens = 0
    assistant = False
    for index, message in enumerate(messages):
        where = f"line {number}, message {index}"
        if not isinstance(message, dict):
            raise InvalidDataset(f"{where}: a message must be an object")
        unknown = sorted(set(message) - _MESSAGE_KEYS)
        if unknown:
            raise InvalidDataset(f"{where}: unknown field {unknown[0]!r}")
        role = message.get("role")
        if role not in _ROLES:
            raise InvalidDataset(f"{where}: role must be one of system, user, assistant (got {role!r})")
        if role == "system" and index != 0:
            raise InvalidDataset(f"{where}: a system message must be the first message")
        content = message.get("content")
        if content is not None and not isinstance(content, str) and not isinstance(content, list):
            raise InvalidDataset(f"{where}: content must be a string")
        if content is None and not message.get("tool_calls"):
            raise InvalidDataset(f"{where}: content is required")
        if "weight" in message and message["weight"] not in (0, 1):
            raise InvalidDataset(f"{where}: weight must be 0 or 1")
        assistant = assistant or role == "assistant"
        tokens += count_tokens(content if isinstance(content, str) else json.dumps(content)) + 4
    if need_assistant and not assistant:
        raise InvalidDataset(f"line {number}: an example needs at least one assistant message")
    return tokens


def recall(pairs: list[tuple[str, str]], prompt: str) -> str:
    """A fine-tune's answer: the trained answer of the same (or a clearly similar) prompt, else a hedge
    that never equals a trained label, so a fine-tune beats its base model in evaluations."""
    key = normalise_prompt(prompt)
    words = set(key.split())
    best, score = None, 0.0
    for trained, answer in pairs:
        if trained == key:
            return answer
        other = set(trained.split())
        overlap = len(words & other) / max(1, len(words | other))
        if overlap > score:
            best, score = answer, overlap
    return best if best is not None and score >= 0.5 else base_answer(prompt)


def base_answer(prompt: str) -> str:
    tail = " ".join(re.findall(r"\w+", prompt)[-3:]) or "that"
    return f"I am not sure; it could be {tail.lower()}."
