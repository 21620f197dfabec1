"""The common case, checked in one pass: a line that parses and is a plain, valid chat example.

Most lines of a real file are ``{"messages": [{"role": ..., "content": "..."}, ...]}`` with nothing wrong.
Building the full checker's facts for each of them (``checks.py``: an object, issue lists, field paths)
costs more than parsing and tokenizing a short example, so such lines are recognised here and the full
checks run only for the others. ``plain_chat`` accepts exactly the examples ``check_example`` passes
without an issue and returns the same facts; ``tests/data/test_fast_path.py`` holds it to that.

Lines are parsed with orjson when it is installed (about twice as fast as ``json``). Whatever orjson
refuses, and any line with a number too long for orjson to keep exact, is parsed again by the caller's
``json`` path, so the values and the error messages are those of ``json``.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["exact", "fast_loads", "plain_chat"]

try:
    import orjson

    _orjson_loads = orjson.loads
except ImportError:  # orjson is a dependency; a broken install still validates, more slowly
    _orjson_loads = None

#: 19 digits in a row may be an integer beyond 64 bits, which orjson turns into a float and json keeps.
_LONG_NUMBER = re.compile(rb"\d{19}")
_MISSING = object()


def fast_loads(raw: bytes) -> Any:
    """The line parsed by orjson, or ``_MISSING`` when the ``json`` path must decide (orjson refused it)."""
    if _orjson_loads is None:
        return _MISSING
    try:
        return _orjson_loads(raw)
    except ValueError:  # orjson.JSONDecodeError; also invalid UTF-8, NaN, deep nesting: json reports them
        return _MISSING


def exact(raw: bytes) -> bool:
    """Whether orjson's value of ``raw`` is json's: no number of 19 digits or more (a plain chat example
    holds only strings, so it needs no such check)."""
    return _LONG_NUMBER.search(raw) is None


def plain_chat(example: Any) -> tuple[str, bool] | None:
    """``(duplicate-detection text, has a system prompt)`` of a plain chat example with no issue, else None.

    Plain: the only key is ``messages``; every message has exactly a ``role`` and a non-blank string
    ``content``; an optional system message first, then user and assistant alternate, ending with the
    assistant. Anything else (tools, weights, names, content parts, any problem) returns None.
    """
    if type(example) is not dict or len(example) != 1:
        return None
    messages = example.get("messages")
    if type(messages) is not list or not messages:
        return None
    parts = []
    expected = "user"
    has_system = False
    for message in messages:
        try:
            if len(message) != 2:
                return None
            content = message["content"]
            role = message["role"]
        except (KeyError, TypeError, IndexError):  # not an object, or not these two keys
            return None
        # ``not content.isspace()`` is ``content.strip()`` being non-empty, without copying the text
        if type(message) is not dict or type(content) is not str or not content or content.isspace():
            return None
        if role == expected:
            expected = "assistant" if role == "user" else "user"
        elif role == "system" and not parts:
            has_system = True
        else:
            return None
        parts.append(f"{role}: {content}")
    if expected != "user" or len(parts) == has_system:  # the last turn is the assistant's
        return None
    return "\n".join(parts), has_system
