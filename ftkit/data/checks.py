"""Structural checks of one parsed example: fields, types, roles, weights and tool calls.

``check_example`` reports every problem of the example (not the first one only) and, when the example is
usable, returns what the rest of the validator needs: the canonical form for token counting, the text used
for duplicate detection, the label and whether it has a system prompt.
"""

from __future__ import annotations

from typing import Any

from ftkit.data._messages import START, ExampleFacts, check_messages, check_text, declared_tools, type_name
from ftkit.data.codes import RawIssue
from ftkit.data.formats import FORMAT_KEYS, detect_format, label_text, to_chat

__all__ = ["ExampleFacts", "check_example"]


def _check_keys(facts: ExampleFacts, example: dict[str, Any], fmt: str) -> None:
    allowed = FORMAT_KEYS[fmt]
    for key in example:
        if key not in allowed:
            facts.error("unknown_key", key, f"unknown key {key!r} for the {fmt} format")


def _require(facts: ExampleFacts, example: dict[str, Any], *keys: str) -> bool:
    ok = True
    for key in keys:
        if key not in example:
            facts.error("missing_field", key, f"the {facts.format} format needs {key!r}")
            ok = False
    return ok


def check_example(example: Any, line: int) -> ExampleFacts:
    """Check one parsed JSON value; the returned facts carry every issue found."""
    if not isinstance(example, dict):
        facts = ExampleFacts(line, "unknown")
        facts.error("not_an_object", None, f"the line is a JSON {type_name(example)}, not an object")
        return facts
    fmt = detect_format(example)
    facts = ExampleFacts(line, fmt)
    if fmt == "unknown":
        keys = ", ".join(sorted(map(str, example))[:6]) or "no keys"
        facts.error("unknown_format", None, f"no known format has these keys: {keys}")
        return facts
    _check_keys(facts, example, fmt)
    texts: list[str] = []
    CHECKERS[fmt](facts, example, texts)
    if not any(i.code in _ERRORS for i in facts.issues):
        facts.text = "\n".join(texts)
        facts.canonical = _canonical(example, fmt)
    return facts


def _check_chat(facts: ExampleFacts, example: dict[str, Any], texts: list[str]) -> None:
    if not _require(facts, example, "messages"):
        return
    declared = declared_tools(facts, example.get("tools"), "tools")
    if "parallel_tool_calls" in example and not isinstance(example["parallel_tool_calls"], bool):
        facts.error("wrong_type", "parallel_tool_calls", "parallel_tool_calls must be true or false")
    check_messages(facts, example["messages"], "messages", declared=declared, ends_with="assistant", texts=texts)
    first = example["messages"][0] if isinstance(example["messages"], list) and example["messages"] else None
    facts.has_system = isinstance(first, dict) and first.get("role") == "system"


def _check_instruction(facts: ExampleFacts, example: dict[str, Any], texts: list[str]) -> None:
    if not _require(facts, example, "instruction", "output"):
        return
    for key in ("instruction", "input", "output"):
        if key == "input" and example.get(key) in (None, ""):  # Alpaca leaves input empty when unused
            continue
        value = check_text(facts, example[key], key)
        if value:
            texts.append(f"{key}: {value}")
    facts.messages = 2


def _check_prompt_completion(facts: ExampleFacts, example: dict[str, Any], texts: list[str]) -> None:
    if not _require(facts, example, "prompt", "completion"):
        return
    prompt, completion = example["prompt"], example["completion"]
    if isinstance(prompt, list) or isinstance(completion, list):  # TRL's conversational prompt/completion
        check_messages(facts, prompt, "prompt", declared=None, ends_with="not_assistant", texts=texts)
        check_messages(facts, completion, "completion", declared=None, ends_with="assistant", texts=texts,
                        after="user")
        return
    for key in ("prompt", "completion"):
        value = check_text(facts, example[key], key)
        if value:
            texts.append(f"{key}: {value}")
    facts.messages = 2


def _check_text_only(facts: ExampleFacts, example: dict[str, Any], texts: list[str]) -> None:
    value = check_text(facts, example["text"], "text")
    if value:
        texts.append(value)
    facts.messages = 1


def _check_classification(facts: ExampleFacts, example: dict[str, Any], texts: list[str]) -> None:
    if not _require(facts, example, "text", "label"):
        return
    value = check_text(facts, example["text"], "text")
    label = example["label"]
    if isinstance(label, bool) or not isinstance(label, (str, int)):
        facts.error("wrong_type", "label", f"a label is a string (or an integer), got {type_name(label)}")
    elif not label_text(label).strip():
        facts.error("empty_content", "label", "the label is empty")
    else:
        facts.label = label_text(label)
        facts.contents.append(facts.label)
    if value:
        texts.append(f"{value}\nlabel: {facts.label}")
    facts.messages = 3
    facts.has_system = True


def _check_output_list(facts: ExampleFacts, value: Any, path: str, texts: list[str]) -> None:
    if not isinstance(value, list) or len(value) != 1:
        facts.error("preference_output", path, "must be an array of exactly one assistant message")
        return
    message = value[0]
    if not isinstance(message, dict) or message.get("role") != "assistant":
        facts.error("preference_output", f"{path}[0]", "must be an assistant message")
        return
    check_messages(facts, value, path, declared=None, ends_with="assistant", texts=texts, after="user")


def _check_openai_preference(facts: ExampleFacts, example: dict[str, Any], texts: list[str]) -> None:
    if not _require(facts, example, "input", "preferred_output", "non_preferred_output"):
        return
    inp = example["input"]
    if not isinstance(inp, dict):
        facts.error("wrong_type", "input", f'input must be an object {{"messages": [...]}}, got {type_name(inp)}')
        return
    for key in inp:
        if key not in ("messages", "tools", "parallel_tool_calls"):
            facts.error("unknown_key", f"input.{key}", f"unknown key {key!r} in input")
    if "messages" not in inp:
        facts.error("missing_field", "input.messages", "input needs messages")
    else:
        declared = declared_tools(facts, inp.get("tools"), "input.tools")
        check_messages(facts, inp["messages"], "input.messages", declared=declared, ends_with="not_assistant",
                        texts=texts)
        first = inp["messages"][0] if isinstance(inp["messages"], list) and inp["messages"] else None
        facts.has_system = isinstance(first, dict) and first.get("role") == "system"
    chosen: list[str] = []
    rejected: list[str] = []
    _check_output_list(facts, example["preferred_output"], "preferred_output", chosen)
    _check_output_list(facts, example["non_preferred_output"], "non_preferred_output", rejected)
    _compare_answers(facts, chosen, rejected, texts)


def _check_trl_preference(facts: ExampleFacts, example: dict[str, Any], texts: list[str]) -> None:
    if not _require(facts, example, "chosen", "rejected"):
        return
    chosen: list[str] = []
    rejected: list[str] = []
    if "prompt" in example:
        prompt = example["prompt"]
        if isinstance(prompt, list):
            check_messages(facts, prompt, "prompt", declared=None, ends_with="not_assistant", texts=texts)
            first = prompt[0] if prompt else None
            facts.has_system = isinstance(first, dict) and first.get("role") == "system"
        else:
            value = check_text(facts, prompt, "prompt")
            if value:
                texts.append(f"user: {value}")
    for key, sink in (("chosen", chosen), ("rejected", rejected)):
        value = example[key]
        if isinstance(value, list):
            after = "user" if "prompt" in example else START  # no prompt: TRL's implicit-prompt form
            check_messages(facts, value, key, declared=None, ends_with="assistant", texts=sink, after=after)
        else:
            text = check_text(facts, value, key)
            if text:
                sink.append(f"assistant: {text}")
    _compare_answers(facts, chosen, rejected, texts)


def _compare_answers(facts: ExampleFacts, chosen: list[str], rejected: list[str], texts: list[str]) -> None:
    if chosen and chosen == rejected:
        facts.issues.append(
            RawIssue("identical_preference", facts.line, "rejected", "the chosen and rejected answers are identical")
        )
    texts.extend(f"chosen {t}" for t in chosen)
    texts.extend(f"rejected {t}" for t in rejected)


CHECKERS = {
    "chat": _check_chat,
    "instruction": _check_instruction,
    "prompt_completion": _check_prompt_completion,
    "text": _check_text_only,
    "classification": _check_classification,
    "openai_preference": _check_openai_preference,
    "preference": _check_trl_preference,
}

#: Codes that make an example unusable (its canonical form is not built).
_ERRORS = frozenset({
    "missing_field", "wrong_type", "empty_content", "empty_messages", "unknown_role", "preference_output",
    "invalid_weight", "not_an_object", "unknown_format",
})


def _canonical(example: dict[str, Any], fmt: str) -> dict[str, Any]:
    """The canonical form for counting; classification leaves out the system prompt (added per dataset)."""
    if fmt == "classification":
        return {"messages": [
            {"role": "user", "content": example["text"]},
            {"role": "assistant", "content": label_text(example["label"])},
        ]}
    return to_chat(example)
