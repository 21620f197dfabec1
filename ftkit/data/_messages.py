"""Checks of message lists: roles and their order, content, weights, tool calls; and the facts they collect.

Used by ``checks.py`` for every format that holds messages (chat, conversational prompt/completion,
preference prompts and answers).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ftkit.data.codes import RawIssue

__all__ = ["START", "ExampleFacts", "check_messages", "check_text", "declared_tools", "type_name"]

ROLES = ("system", "user", "assistant", "tool")
START = "start"  # the role "before" the first message of a conversation
_MESSAGE_KEYS = {
    "system": frozenset({"role", "content", "name"}),
    "user": frozenset({"role", "content", "name"}),
    "assistant": frozenset({"role", "content", "name", "tool_calls", "weight", "function_call", "refusal"}),
    "tool": frozenset({"role", "content", "tool_call_id", "name"}),
}
_CONTENT_PART_TYPES = frozenset({"text", "image_url"})


@dataclass
class ExampleFacts:
    """What the checks learned about one example."""

    line: int
    format: str
    issues: list[RawIssue] = field(default_factory=list)
    canonical: dict[str, Any] | None = None  # None when the example has errors
    text: str = ""  # roles and contents, for exact and near duplicate detection
    label: str | None = None
    has_system: bool = False
    messages: int = 0
    contents: list[str] = field(default_factory=list)  # plain-text fields, for the special-token check

    def error(self, code: str, path: str | None, message: str) -> None:
        self.issues.append(RawIssue(code, self.line, path, message))


def type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number" if isinstance(value, (int, float)) else type(value).__name__
    )


def check_text(facts: ExampleFacts, value: Any, path: str, *, required: bool = True) -> str | None:
    """A required non-empty string field; returns it when valid."""
    if value is None and not required:
        return None
    if not isinstance(value, str):
        facts.error("wrong_type", path, f"expected a string, got {type_name(value)}")
        return None
    if not value.strip():
        facts.error("empty_content", path, "is empty or whitespace only")
        return None
    facts.contents.append(value)
    return value


def _objects(facts: ExampleFacts, items: list[Any], path: str, what: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(path, item)`` for the items that are objects; the others are reported as ``wrong_type``."""
    for i, item in enumerate(items):
        if isinstance(item, dict):
            yield f"{path}[{i}]", item
        else:
            facts.error("wrong_type", f"{path}[{i}]", f"{what} must be an object, got {type_name(item)}")


def _check_content_parts(facts: ExampleFacts, parts: list[Any], path: str) -> str | None:
    texts = []
    for p, part in _objects(facts, parts, path, "a content part"):
        kind = part.get("type")
        if kind not in _CONTENT_PART_TYPES:
            facts.error("wrong_type", f"{p}.type", f"content part type must be 'text' or 'image_url', got {kind!r}")
        elif kind == "text":
            text = check_text(facts, part.get("text"), f"{p}.text")
            if text:
                texts.append(text)
        elif not isinstance(part.get("image_url"), (dict, str)):
            facts.error("missing_field", f"{p}.image_url", "an image_url part needs an image_url")
    if not parts:
        facts.error("empty_content", path, "has no content parts")
    return "\n".join(texts) if texts else None


def _check_tool_calls(
    facts: ExampleFacts, calls: Any, path: str, declared: set[str] | None, call_ids: set[str]
) -> list[str]:
    """Check an assistant turn's tool_calls; returns the text of the calls (for duplicate detection)."""
    if not isinstance(calls, list) or not calls:
        facts.error("wrong_type", path, f"tool_calls must be a non-empty array, got {type_name(calls)}")
        return []
    texts = []
    for p, call in _objects(facts, calls, path, "a tool call"):
        if isinstance(call.get("id"), str):
            call_ids.add(call["id"])
        else:
            facts.error("missing_field", f"{p}.id", "a tool call needs a string id")
        function = call.get("function")
        if not isinstance(function, dict):
            facts.error("missing_field", f"{p}.function", "a tool call needs a function object")
            continue
        name = function.get("name")
        if not isinstance(name, str) or not name:
            facts.error("missing_field", f"{p}.function.name", "a tool call needs the function's name")
        elif declared is not None and name not in declared:
            facts.error("undeclared_tool", f"{p}.function.name", f"calls {name!r}, which is not in `tools`")
        arguments = function.get("arguments")
        if not isinstance(arguments, str):
            facts.error("wrong_type", f"{p}.function.arguments", "arguments must be a JSON-encoded string")
        else:
            texts.append(f"{name}({arguments})")
    return texts


def declared_tools(facts: ExampleFacts, tools: Any, path: str) -> set[str] | None:
    if tools is None:
        return None
    if not isinstance(tools, list):
        facts.error("wrong_type", path, f"tools must be an array, got {type_name(tools)}")
        return None
    names = set()
    for i, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if not isinstance(name, str):
            facts.error("wrong_type", f"{path}[{i}]", 'a tool is {"type": "function", "function": {"name": ...}}')
        else:
            names.add(name)
    return names


def check_messages(
    facts: ExampleFacts,
    messages: Any,
    path: str,
    *,
    declared: set[str] | None,
    ends_with: str | None,
    texts: list[str],
    after: str = START,
) -> bool:
    """Check a message list. ``ends_with``: "assistant" (SFT), "not_assistant" (a preference prompt) or None.

    ``after`` is the role before the list (answers of a preference pair or a completion follow a user turn).
    """
    if not isinstance(messages, list):
        facts.error("wrong_type", path, f"expected an array of messages, got {type_name(messages)}")
        return False
    if not messages:
        facts.error("empty_messages", path, "has no messages")
        return False
    call_ids: set[str] = set()
    roles: list[str | None] = []
    trained_turns = assistant_turns = 0
    tool_calls_seen = False
    for i, message in enumerate(messages):
        p = f"{path}[{i}]"
        if not isinstance(message, dict):
            facts.error("wrong_type", p, f"a message must be an object, got {type_name(message)}")
            roles.append(None)
            continue
        role = message.get("role")
        if role not in ROLES:
            if "role" not in message:
                facts.error("missing_field", f"{p}.role", "the message has no role")
            else:
                facts.error("unknown_role", f"{p}.role", f"unknown role {role!r}")
            roles.append(None)
            continue
        roles.append(role)
        for key in message:
            if key not in _MESSAGE_KEYS[role]:
                if key == "weight":
                    facts.error("weight_not_on_assistant", f"{p}.weight", f"a {role} message has a weight")
                else:
                    facts.error("unknown_key", f"{p}.{key}", f"unknown key {key!r} in a {role} message")
        content = message.get("content")
        calls = message.get("tool_calls")
        if role == "assistant":
            assistant_turns += 1
            if "weight" in message:
                weight = message["weight"]
                if isinstance(weight, bool) or weight not in (0, 1) or not isinstance(weight, int):
                    facts.error("invalid_weight", f"{p}.weight", f"weight must be 0 or 1, got {weight!r}")
                if weight != 0:
                    trained_turns += 1
            else:
                trained_turns += 1
            if calls is not None:
                tool_calls_seen = True
                texts.extend(_check_tool_calls(facts, calls, f"{p}.tool_calls", declared, call_ids))
        if role == "tool":
            call_id = message.get("tool_call_id")
            if call_id is not None and call_id not in call_ids:
                facts.error("unknown_tool_call_id", f"{p}.tool_call_id", f"no earlier tool call has id {call_id!r}")
        if isinstance(content, list) and role in ("user", "system"):
            text = _check_content_parts(facts, content, f"{p}.content")
        elif role == "assistant" and content is None and (calls is not None or message.get("function_call")):
            text = None  # a pure tool-calling turn
        else:
            text = check_text(facts, content, f"{p}.content")
        if text:
            texts.append(f"{role}: {text}")
    if tool_calls_seen and declared is None:
        facts.issues.append(
            RawIssue("tools_not_declared", facts.line, path, "tool calls are used but the example declares no tools")
        )
    _check_order(facts, roles, path, ends_with, after)
    if ends_with == "assistant":
        if assistant_turns == 0:
            facts.error("no_assistant_message", path, "has no assistant message to train on")
        elif trained_turns == 0:
            facts.error("no_trained_tokens", path, "every assistant turn has weight 0")
    facts.messages += len(messages)
    return True


#: The turn each role may follow; a system message is only ever first.
_MAY_FOLLOW = {
    "user": frozenset({START, "system", "assistant", "tool"}),
    "assistant": frozenset({"user", "tool"}),
    "tool": frozenset({"assistant", "tool"}),
}


def _check_order(
    facts: ExampleFacts, roles: list[str | None], path: str, ends_with: str | None, after: str
) -> None:
    """System first and once; then user and assistant alternate; tool turns answer an assistant's call."""
    previous: str | None = after
    for i, role in enumerate(roles):
        if role == "system":
            if i != 0 or after != START:
                facts.error("system_not_first", f"{path}[{i}].role", "a system message after the first turn")
        elif role is not None and previous is not None and previous not in _MAY_FOLLOW[role]:
            before = "the start" if previous == START else previous
            facts.error("roles_not_alternating", f"{path}[{i}].role", f"{role} after {before}")
        previous = role
    last = roles[-1] if roles else None
    if ends_with == "assistant" and last is not None and last != "assistant":
        facts.error("last_not_assistant", f"{path}[{len(roles) - 1}]", f"the last turn is {last}, not assistant")
    if ends_with == "not_assistant" and last == "assistant":
        facts.error("prompt_ends_with_assistant", f"{path}[{len(roles) - 1}]", "the prompt ends with an assistant turn")


