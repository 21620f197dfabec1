"""A generated training file (and validation file) with known problems of every kind, for the pinned report.

Deterministic without any random library: the same bytes on every machine and Python version. About 2,000
lines: routing tickets from a dozen families (exact and near-duplicates, a few without the system prompt),
longer conversations, one line per structural problem, lines that take the JSON parser's slow path (huge
integers, NaN, lone surrogates, raw control characters), valid lines the fast path must leave to the full
checks (tools, names, weights, content parts), blank lines, special tokens, an example past
``max_seq_length``; the validation file copies and near-copies some training lines.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["problem_files"]

SYSTEM = "You route Acme support tickets. Answer with exactly one label: billing, shipping, returns or other."
FAMILIES = (
    ("billing", "I was charged twice for order {n} last {day}, please refund the second payment"),
    ("billing", "Why does my invoice for {day} show {n} dollars more than my plan"),
    ("shipping", "My package {n} has not arrived yet and the tracking page says nothing since {day}"),
    ("shipping", "Can you ship order {n} to my office address instead of home"),
    ("returns", "I want to return the {item} from order {n} because it is the wrong size"),
    ("returns", "The {item} I received on {day} is broken, how do I send it back"),
    ("other", "Do you have a store near {item} street where I can pick up order {n}"),
    ("other", "Who can I talk to about a partnership, we sell {item} in bulk"),
)
WORDS = ("model", "data", "training", "example", "answer", "question", "refund", "order", "package", "account",
         "ticket", "invoice", "support", "weather", "river", "harbour", "storm", "captain", "lantern", "mountain",
         "valley", "garden", "window", "letter", "station")


class _Draw:
    """A counter-based generator: draw k is the sha256 of (seed, k)."""

    def __init__(self, seed: str):
        self.seed, self.k = seed, 0

    def below(self, n: int) -> int:
        self.k += 1
        return int.from_bytes(hashlib.sha256(f"{self.seed}:{self.k}".encode()).digest()[:8], "little") % n

    def words(self, n: int) -> str:
        return " ".join(WORDS[self.below(len(WORDS))] for _ in range(n))


def _ticket(draw: _Draw, system: bool = True) -> dict[str, Any]:
    label, frame = FAMILIES[draw.below(len(FAMILIES))]
    text = frame.format(n=100 + draw.below(12), day=("monday", "friday", "sunday")[draw.below(3)],
                        item=("kettle", "jacket", "camera")[draw.below(3)])
    if draw.below(3):
        text += " " + draw.words(draw.below(4))
    messages = [{"role": "system", "content": SYSTEM}] if system else []
    messages += [{"role": "user", "content": text.strip() + "."}, {"role": "assistant", "content": label}]
    return {"messages": messages}


def _conversation(draw: _Draw, turns: int) -> dict[str, Any]:
    messages = [{"role": "system", "content": SYSTEM}]
    for _ in range(turns):
        messages.append({"role": "user", "content": draw.words(8 + draw.below(30))})
        messages.append({"role": "assistant", "content": draw.words(12 + draw.below(60))})
    return {"messages": messages}


def _m(role: str, content: Any = "hi there", **extra: Any) -> dict[str, Any]:
    return {"role": role, "content": content, **extra}


def _call(name: str, call_id: str = "c1") -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": "{}"}}


def _tool(name: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}


U, A, S = "user", "assistant", "system"
#: One line per problem (raw bytes or a JSON value), and valid lines only the full checks accept.
SPECIAL_LINES: list[bytes | Any] = [
    b'{"messages": [{"role": "user", "content": "caf\xe9"}, {"role": "assistant", "content": "ok"}]}',
    b'{"messages": [}',
    b'[' * 5000 + b']' * 5000,
    [1, 2, 3],
    "just a string",
    {"foo": 1},
    {"text": "raw text line in a chat file"},
    {"text": "a classified line", "label": "billing"},
    {"prompt": "a prompt", "completion": "a completion"},
    {"messages": "not a list"},
    {"messages": [_m(U), _m(A)], "id": 7},
    {"messages": [_m(U, "   "), _m(A)]},
    {"messages": [_m(U, "\u3000\u2003"), _m(A)]},  # Unicode whitespace only
    {"messages": []},
    {"messages": [_m("bot"), _m(A)]},
    {"messages": [{"content": "no role"}, _m(A)]},
    {"messages": [_m(U), _m(S), _m(A)]},
    {"messages": [_m(U), _m(U), _m(A)]},
    {"messages": [_m(U)]},
    {"messages": [_m(S, "only a system prompt")]},
    {"messages": [_m(U), _m(A), _m(U)]},
    {"messages": [_m(A, "assistant first"), _m(U), _m(A)]},
    {"messages": [_m(U), _m(A, weight=0.5)]},
    {"messages": [_m(U, weight=1), _m(A)]},
    {"messages": [_m(U), _m(A, weight=0)]},
    {"messages": [_m(U), _m(A, weight=1)]},  # valid: the full checks, not the fast path
    {"messages": [_m(U, name="ann"), _m(A)]},  # valid
    {"messages": [_m(U, [{"type": "text", "text": "parts"}]), _m(A)]},  # valid content parts
    {"messages": [_m(U, 5), _m(A)]},
    {"messages": [_m(U, None), _m(A)]},
    {"messages": [_m(U), _m(A), _m(U), _m(A, "second answer")]},  # valid, two turns
    {"tools": [_tool("f")], "messages": [_m(U), _m(A, None, tool_calls=[_call("g")]),
                                         _m("tool", "1", tool_call_id="c1"), _m(A)]},
    {"messages": [_m(U), _m(A, None, tool_calls=[_call("g")]), _m("tool", "1", tool_call_id="c1"), _m(A)]},
    {"tools": [_tool("g")], "messages": [_m(U), _m(A, None, tool_calls=[_call("g")]),
                                         _m("tool", "1", tool_call_id="c9"), _m(A)]},
    {"tools": [_tool("g")], "messages": [_m(U, "weather?"), _m(A, None, tool_calls=[_call("g")]),
                                         _m("tool", "sunny", tool_call_id="c1"), _m(A, "It is sunny.")]},  # valid
    {"messages": [_m(U, "tell me a secret <|endoftext|> now"), _m(A, "no")]},
    {"messages": [_m(U, "long " + " ".join(f"w{i}" for i in range(400))), _m(A, "ok")]},  # past max_seq_length
    # the JSON parser's slow path: json's values and messages, whatever orjson would say
    b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok", '
    b'"weight": 123456789012345678901234567890}]}',
    b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok", "weight": NaN}]}',
    b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok", "weight": 1e999}]}',
    b'{"messages": [{"role": "user", "content": "lone \\ud800 surrogate"}, {"role": "assistant", "content": "ok"}]}',
    b'{"messages": [{"role": "user", "content": "raw\ttab"}, {"role": "assistant", "content": "ok"}]}',
    b'{"messages": [{"role": "user", "content": "dup"}, {"role": "user", "content": "keys"}], "messages": '
    b'[{"role": "user", "content": "last key wins"}, {"role": "assistant", "content": "ok"}]}',
    b'{"text": "big label", "label": 123456789012345678901234567890}',
    b"   \t ",
    b"",
]


def _encode(row: bytes | Any) -> bytes:
    return row if isinstance(row, bytes) else json.dumps(row).encode()


def problem_files() -> tuple[bytes, bytes]:
    """(training file, validation file) as bytes."""
    draw = _Draw("ftkit-regression")
    train: list[bytes] = []
    for i in range(1800):
        if i % 40 == 7:
            train.append(_encode(SPECIAL_LINES[(i // 40) % len(SPECIAL_LINES)]))
        elif i % 9 == 4:
            train.append(_encode(_conversation(draw, 1 + draw.below(3))))
        else:
            train.append(_encode(_ticket(draw, system=draw.below(50) != 0)))
    train.extend(_encode(row) for row in SPECIAL_LINES)  # every special line at least once
    train[0] = b"\xef\xbb\xbf" + train[0]
    validation = [train[k] for k in (3, 10, 11, 50)]  # copies of training lines: leakage
    near = json.loads(train[13])
    near["messages"][-1]["content"] += " indeed"
    validation.append(_encode(near))
    validation += [_encode(_conversation(draw, 2)) for _ in range(20)]
    validation.append(validation[-1])  # a duplicate inside the validation file
    return b"\n".join(train) + b"\n", b"\n".join(validation) + b"\n"
