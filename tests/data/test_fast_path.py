"""The fast path accepts exactly what the full checks pass, with the same facts, and counts the same tokens."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from ftkit.data._fast import _MISSING, exact, fast_loads, plain_chat
from ftkit.data.checks import check_example

roles = st.sampled_from(["system", "user", "assistant", "tool", "bot", None, 3])
contents = st.one_of(st.text(max_size=6), st.sampled_from(["", " ", "\u3000", "\t\n", "ok"]), st.none(), st.integers())
messages = st.one_of(
    st.fixed_dictionaries({"role": roles, "content": contents}),
    st.fixed_dictionaries({"role": roles, "content": contents},
                          optional={"weight": st.sampled_from([0, 1]), "name": st.just("n")}),
    st.lists(st.text(max_size=2), max_size=2),
    st.text(max_size=2),
)
examples = st.one_of(
    st.fixed_dictionaries({"messages": st.lists(messages, max_size=5)}),
    st.fixed_dictionaries({"messages": st.lists(messages, max_size=5)}, optional={"tools": st.just([])}),
    st.fixed_dictionaries({"messages": st.text(max_size=3)}),
)


@settings(max_examples=400, deadline=None)
@given(examples)
def test_plain_chat_agrees_with_the_full_checks(example):
    facts = check_example(example, 1)
    fast = plain_chat(example)
    if fast is not None:
        assert facts.issues == [] and facts.canonical is not None
        assert fast == (facts.text, facts.has_system)
    elif not facts.issues and all(type(m) is dict and set(m) == {"role", "content"} for m in example["messages"]) \
            and set(example) == {"messages"}:
        raise AssertionError(f"a plain example the full checks pass was left to them: {example!r}")


def test_the_common_shapes_take_the_fast_path():
    system, user, assistant = ({"role": r, "content": f"{r} text"} for r in ("system", "user", "assistant"))
    assert plain_chat({"messages": [system, user, assistant]}) == (
        "system: system text\nuser: user text\nassistant: assistant text", True)
    assert plain_chat({"messages": [user, assistant, user, assistant]})[1] is False
    for slow in ({"messages": [system]}, {"messages": [user]}, {"messages": [assistant, user, assistant]},
                 {"messages": [user, assistant], "tools": []}, {"messages": [user, {**assistant, "weight": 1}]},
                 {"messages": [user, {"role": "assistant", "content": "\u2003"}]}):
        assert plain_chat(slow) is None


def test_lines_orjson_would_read_differently_go_to_json():
    assert fast_loads(b'{"a": NaN}') is _MISSING and fast_loads(b'{"a": "\\ud800"}') is _MISSING
    assert fast_loads(b'{"a": 1e999}') is _MISSING and fast_loads(b'{"a": "caf\xe9"}') is _MISSING
    big = b'{"label": 123456789012345678901234567890}'
    assert not exact(big) and json.loads(big)["label"] == 123456789012345678901234567890
    assert fast_loads(b'{"a": [1, "x"]}') == {"a": [1, "x"]} and exact(b'{"a": 123456789012345678}')


def test_token_counts_of_plain_rows_follow_the_cookbook_formula():
    from ftkit.estimation.tiktoken_offline import get_encoding
    from ftkit.estimation.tokens import token_counter

    counter = token_counter("openai", "gpt-4o-mini")
    encoding, _ = get_encoding("o200k_base")
    rows = [{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": f"Q{i} " * i},
                          {"role": "assistant", "content": f"A{i}"}]} for i in range(1, 30)]

    def cookbook(row):  # 3 per message, its role and content, 3 to prime the reply; trained: the answers
        n = {m["content"]: len(encoding.encode_ordinary(m["content"])) for m in row["messages"]}
        total = 3 + sum(3 + len(encoding.encode_ordinary(m["role"])) + n[m["content"]] for m in row["messages"])
        return total, sum(n[m["content"]] for m in row["messages"] if m["role"] == "assistant")

    assert counter.count_batch(rows) == [cookbook(r) for r in rows]
    named = [{"messages": [{**m, "name": "x"} if m["role"] == "user" else m for m in r["messages"]]} for r in rows]
    name_cost = 1 + len(encoding.encode_ordinary("x"))  # the general plan: a name costs one token more
    assert counter.count_batch(named) == [(t + name_cost, n) for t, n in map(cookbook, rows)]
