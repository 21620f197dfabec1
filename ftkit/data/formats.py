"""Dataset formats, their detection, and the canonical chat form every part of ftkit trains and evaluates from.

Formats (``detect_format`` names):

=====================  =============================================================================
``chat``               ``{"messages": [...], "tools"?, "parallel_tool_calls"?}``
``instruction``        Alpaca: ``{"instruction", "input"?, "output"}``
``prompt_completion``  ``{"prompt", "completion"}`` (strings, or TRL's conversational message lists)
``text``               ``{"text"}`` raw text
``classification``     ``{"text", "label"}``
``preference``         TRL: ``{"prompt"?, "chosen", "rejected"}`` (strings or message lists)
``openai_preference``  OpenAI / Together DPO: ``{"input": {"messages"}, "preferred_output",
                       "non_preferred_output"}``
=====================  =============================================================================

The canonical form (``to_chat``) is ``{"messages": [...]}`` for supervised formats and
``{"prompt": [...], "chosen": [assistant], "rejected": [assistant]}`` for preference formats.
A classification example becomes a system prompt listing the labels, the text as the user turn and
the label as the assistant turn; the system prompt is exactly::

    Classify the text into exactly one of these labels: <label>, <label>, .... Answer with the label only.

with the labels sorted (``classification_system_prompt``), so evaluation renders the same prompt as training.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ftkit.errors import ConfigError

__all__ = [
    "PREFERENCE_FORMATS",
    "SFT_FORMATS",
    "classification_system_prompt",
    "detect_format",
    "label_text",
    "reference_of",
    "to_chat",
]

SFT_FORMATS = ("chat", "instruction", "prompt_completion", "text", "classification")
PREFERENCE_FORMATS = ("preference", "openai_preference")
UNKNOWN = "unknown"

#: Top-level keys each format allows (anything else is reported as ``unknown_key``).
FORMAT_KEYS: dict[str, frozenset[str]] = {
    "chat": frozenset({"messages", "tools", "parallel_tool_calls", "functions"}),
    "instruction": frozenset({"instruction", "input", "output"}),
    "prompt_completion": frozenset({"prompt", "completion"}),
    "text": frozenset({"text"}),
    "classification": frozenset({"text", "label"}),
    "preference": frozenset({"prompt", "chosen", "rejected"}),
    "openai_preference": frozenset({"input", "preferred_output", "non_preferred_output"}),
}

_CLASSIFICATION_PROMPT = "Classify the text into exactly one of these labels: {labels}. Answer with the label only."


def detect_format(example: Any) -> str:
    """Name the format of one example from its keys (``"unknown"`` when none fits).

    >>> detect_format({"messages": [{"role": "user", "content": "hi"}]})
    'chat'
    >>> detect_format({"text": "great film", "label": "positive"})
    'classification'
    """
    if not isinstance(example, dict):
        return UNKNOWN
    keys = example.keys()
    if "messages" in keys:
        return "chat"
    if "preferred_output" in keys or "non_preferred_output" in keys:
        return "openai_preference"
    if "chosen" in keys or "rejected" in keys:
        return "preference"
    if "instruction" in keys:
        return "instruction"
    if "completion" in keys:
        return "prompt_completion"
    if "label" in keys:
        return "classification"
    if "text" in keys:
        return "text"
    if "prompt" in keys:
        return "prompt_completion"
    return UNKNOWN


def label_text(label: Any) -> str:
    """A label as the exact string the model is trained to answer (ints become their digits)."""
    return label if isinstance(label, str) else str(label)


def classification_system_prompt(labels: Iterable[Any]) -> str:
    """The system prompt of a classification example: the sorted, de-duplicated labels.

    >>> classification_system_prompt(["spam", "ham"])
    'Classify the text into exactly one of these labels: ham, spam. Answer with the label only.'
    """
    names = sorted({label_text(x) for x in labels})
    return _CLASSIFICATION_PROMPT.format(labels=", ".join(names))


def _user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def _assistant(content: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": content}


def _as_messages(value: Any, role: str) -> list[dict[str, Any]]:
    """A string becomes one message of ``role``; a message list is copied as is."""
    if isinstance(value, str):
        return [{"role": role, "content": value}]
    if isinstance(value, list):
        return [dict(m) for m in value]
    raise ConfigError(f"Expected a string or a list of messages, got {type(value).__name__}.")


def to_chat(example: dict[str, Any], *, labels: Sequence[Any] | None = None) -> dict[str, Any]:
    """The canonical form of one (valid) example.

    ``labels`` is the dataset's label set; classification examples need it for their system prompt
    (``ftkit.data.label_set(source)`` reads it from a file). Raw ``text`` examples have no turns and are
    returned as ``{"text": ...}``.

    >>> to_chat({"instruction": "Add", "input": "2 and 3", "output": "5"})["messages"][0]
    {'role': 'user', 'content': 'Add\\n\\n2 and 3'}
    """
    fmt = detect_format(example)
    if fmt == "chat":
        out = {"messages": [dict(m) for m in example["messages"]]}
        for key in ("tools", "parallel_tool_calls"):
            if key in example:
                out[key] = example[key]
        return out
    if fmt == "instruction":
        extra = example.get("input")
        user = example["instruction"] + (f"\n\n{extra}" if extra else "")
        return {"messages": [_user(user), _assistant(example["output"])]}
    if fmt == "prompt_completion":
        return {
            "messages": _as_messages(example["prompt"], "user") + _as_messages(example["completion"], "assistant")
        }
    if fmt == "classification":
        if labels is None:
            raise ConfigError(
                "A classification example needs the dataset's label set for its system prompt: "
                "pass labels=ftkit.data.label_set(source)."
            )
        return {
            "messages": [
                {"role": "system", "content": classification_system_prompt(labels)},
                _user(example["text"]),
                _assistant(label_text(example["label"])),
            ]
        }
    if fmt == "text":
        return {"text": example["text"]}
    if fmt == "openai_preference":
        inp = example["input"]
        out = {
            "prompt": [dict(m) for m in inp["messages"]],
            "chosen": [dict(m) for m in example["preferred_output"]],
            "rejected": [dict(m) for m in example["non_preferred_output"]],
        }
        for key in ("tools", "parallel_tool_calls"):
            if key in inp:
                out[key] = inp[key]
        return out
    if fmt == "preference":
        return _trl_preference(example)
    raise ConfigError(f"Unknown dataset format with keys {sorted(example)[:8]}; see `ftkit validate` for the formats.")


def _trl_preference(example: dict[str, Any]) -> dict[str, Any]:
    chosen = _as_messages(example["chosen"], "assistant")
    rejected = _as_messages(example["rejected"], "assistant")
    if "prompt" in example:
        return {"prompt": _as_messages(example["prompt"], "user"), "chosen": chosen, "rejected": rejected}
    # TRL's implicit prompt: chosen and rejected are whole conversations sharing the prompt turns.
    shared = 0
    while shared < min(len(chosen), len(rejected)) - 1 and chosen[shared] == rejected[shared]:
        shared += 1
    return {"prompt": chosen[:shared], "chosen": chosen[shared:], "rejected": rejected[shared:]}


def reference_of(
    example: dict[str, Any], *, labels: Sequence[Any] | None = None
) -> tuple[list[dict[str, Any]], str]:
    """``(prompt_messages, reference_text)`` for evaluation.

    The prompt is every turn before the last assistant turn (system prompt included), the reference is
    that turn's text: the completion, output, label, or a preference example's chosen answer.

    >>> reference_of({"prompt": "2+2?", "completion": "4"})
    ([{'role': 'user', 'content': '2+2?'}], '4')
    """
    chat = to_chat(example, labels=labels)
    if "text" in chat:
        raise ConfigError("Raw text examples have no prompt and reference; evaluate with chat or completion data.")
    if "chosen" in chat:
        return chat["prompt"], _text_of(chat["chosen"][-1].get("content"))
    messages = chat["messages"]
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].get("role") == "assistant":
            return messages[:index], _text_of(messages[index].get("content"))
    raise ConfigError("The example has no assistant turn to use as the reference answer.")


def _text_of(content: Any) -> str:
    """Text of a message content: a string, or the text parts of a content-part list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""
