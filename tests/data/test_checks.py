"""Each check: a file that triggers it, and a valid file with the same settings that does not."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ftkit.data import validate
from ftkit.data._rules import ProviderRules
from ftkit.data.codes import CODES
from tests.data.data_rows import chat, rows_of

U, A = "user", "assistant"


def msg(role: str, content: Any = "hi", **extra: Any) -> dict[str, Any]:
    return {"role": role, "content": content, **extra}


def call(name: str, id: str = "c1") -> dict[str, Any]:
    return {"id": id, "type": "function", "function": {"name": name, "arguments": "{}"}}


def tool(name: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}


def lines(*rows: Any) -> bytes:
    return b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in rows)


GOOD_CHAT = rows_of("chat", 12)
PREF = rows_of("openai_preference", 12)

# (code, bad file content, validate() keyword arguments, valid rows for the same settings)
CASES: list[tuple[str, bytes, dict[str, Any], list[dict[str, Any]]]] = [
    ("invalid_utf8", lines(chat(1), b'{"text": "caf\xe9"}'), {}, GOOD_CHAT),
    ("bom", b"\xef\xbb\xbf" + lines(chat(1)), {}, GOOD_CHAT),
    ("blank_line", lines(chat(1)) + b"\n" + lines(chat(2)), {}, GOOD_CHAT),
    ("invalid_json", lines(chat(1), b'{"messages": [}'), {}, GOOD_CHAT),
    ("too_deep", lines(b"[" * 200_000 + b"]" * 200_000), {}, GOOD_CHAT),
    ("not_an_object", lines([1, 2]), {}, GOOD_CHAT),
    ("unknown_format", lines({"foo": 1}), {}, GOOD_CHAT),
    ("mixed_formats", lines(chat(1), chat(2), {"text": "raw"}), {}, GOOD_CHAT),
    ("missing_field", lines({"instruction": "do it"}), {}, rows_of("instruction", 12)),
    ("wrong_type", lines({"text": 5}), {}, rows_of("text", 12)),
    ("unknown_key", lines({**chat(1), "id": 7}), {}, GOOD_CHAT),
    ("empty_content", lines({"messages": [msg(U, "  "), msg(A)]}), {}, GOOD_CHAT),
    ("empty_messages", lines({"messages": []}), {}, GOOD_CHAT),
    ("unknown_role", lines({"messages": [msg("bot"), msg(A)]}), {}, GOOD_CHAT),
    ("system_not_first", lines({"messages": [msg(U), msg("system"), msg(A)]}), {}, GOOD_CHAT),
    ("roles_not_alternating", lines({"messages": [msg(U), msg(U), msg(A)]}), {}, GOOD_CHAT),
    ("no_assistant_message", lines({"messages": [msg(U)]}), {}, GOOD_CHAT),
    ("last_not_assistant", lines({"messages": [msg(U), msg(A), msg(U)]}), {}, GOOD_CHAT),
    ("invalid_weight", lines({"messages": [msg(U), msg(A, weight=0.5)]}), {}, GOOD_CHAT),
    ("weight_not_on_assistant", lines({"messages": [msg(U, weight=1), msg(A)]}), {}, GOOD_CHAT),
    ("no_trained_tokens", lines({"messages": [msg(U), msg(A, weight=0)]}), {}, GOOD_CHAT),
    ("undeclared_tool", lines({"tools": [tool("f")], "messages": [
        msg(U), msg(A, None, tool_calls=[call("g")]), msg("tool", "1", tool_call_id="c1"), msg(A)]}), {}, GOOD_CHAT),
    ("tools_not_declared", lines({"messages": [
        msg(U), msg(A, None, tool_calls=[call("g")]), msg("tool", "1", tool_call_id="c1"), msg(A)]}), {}, GOOD_CHAT),
    ("unknown_tool_call_id", lines({"tools": [tool("g")], "messages": [
        msg(U), msg(A, None, tool_calls=[call("g")]), msg("tool", "1", tool_call_id="c9"), msg(A)]}), {}, GOOD_CHAT),
    ("prompt_ends_with_assistant", lines({"input": {"messages": [msg(U), msg(A)]},
                                          "preferred_output": [msg(A, "a")],
                                          "non_preferred_output": [msg(A, "b")]}), {}, PREF),
    ("preference_output", lines({"input": {"messages": [msg(U)]}, "preferred_output": [msg(A), msg(A)],
                                 "non_preferred_output": [msg(A, "b")]}), {}, PREF),
    ("identical_preference", lines({"input": {"messages": [msg(U)]}, "preferred_output": [msg(A, "same")],
                                    "non_preferred_output": [msg(A, "same")]}), {}, PREF),
    ("method_mismatch", lines(*GOOD_CHAT), {"method": "dpo"}, PREF),
    ("too_few_examples", lines(*GOOD_CHAT[:5]), {"provider": "openai", "model": "gpt-4o-mini"}, GOOD_CHAT),
    ("format_not_accepted", lines(*rows_of("text", 12)), {"provider": "openai", "model": "gpt-4o-mini"}, GOOD_CHAT),
    ("few_examples", lines(*GOOD_CHAT), {}, rows_of("chat", 520)),
    ("label_count_low", lines(*rows_of("classification", 20)), {},
     [{"text": f"review {i} " + " ".join(f"q{i}z{k}" for k in range(8)), "label": ["good", "bad"][i % 2]}
      for i in range(200)]),
    ("label_imbalance", lines(*[{"text": f"t{i} " + " ".join(f"a{i}b{k}" for k in range(8)),
                                 "label": "bad" if i < 2 else "good"} for i in range(40)]), {},
     rows_of("classification", 40)),
    ("label_variants", lines(*rows_of("classification", 6), {"text": "odd one", "label": "Good."}), {},
     rows_of("classification", 12)),
    ("system_prompt_inconsistent", lines(*GOOD_CHAT, chat(99, system=False)), {}, GOOD_CHAT),
    ("duplicate", lines(*GOOD_CHAT, GOOD_CHAT[3]), {}, GOOD_CHAT),
    ("truncated", lines(*GOOD_CHAT), {"max_seq_length": 10}, rows_of("chat", 12)),
]


def _codes(content: bytes | list[dict[str, Any]], write, **kwargs: Any) -> dict[str, int]:
    path = write(content if isinstance(content, bytes) else lines(*content))
    report = validate(path, **kwargs)
    assert report.ok == (not any(CODES[c].severity == "error" for c in report.issue_counts))
    return report.issue_counts


@pytest.mark.parametrize(("code", "bad", "kwargs", "good"), CASES, ids=[c[0] for c in CASES])
def test_check_fires_on_bad_data_and_not_on_good(code, bad, kwargs, good, write):
    good_kwargs = {"max_seq_length": 4096} if code == "truncated" else kwargs
    assert code in _codes(bad, write, **kwargs), f"{code} not reported"
    assert code not in _codes(good, write, **good_kwargs), f"{code} reported on valid data"


def test_every_issue_has_line_path_and_hint(write):
    path = write(lines(chat(1), {"messages": [msg(U), msg(U, " ")]}, b'{"a": '))
    report = validate(path)
    by_code = {i.code: i for i in report.issues}
    assert by_code["empty_content"].line == 2
    assert by_code["empty_content"].path == "messages[1].content"
    assert by_code["roles_not_alternating"].path == "messages[1].role"
    assert by_code["invalid_json"].line == 3 and "column 7" in by_code["invalid_json"].message
    assert all(i.hint for i in report.issues)
    assert not report.ok


def test_invalid_utf8_reports_the_byte_offset(write):
    first = lines(chat(1))
    path = write(first + b'{"text": "caf\xe9"}\n')
    issue = next(i for i in validate(path).issues if i.code == "invalid_utf8")
    assert issue.line == 2
    assert f"byte offset {len(first) + 13}" in issue.message


def test_line_too_long_is_reported_without_reading_it_whole(write, monkeypatch):
    import ftkit.data._chunk
    import ftkit.data.scan

    monkeypatch.setattr(ftkit.data.scan, "MAX_LINE_BYTES", 5000)
    monkeypatch.setattr(ftkit.data._chunk, "MAX_LINE_BYTES", 5000)
    monkeypatch.setattr(ftkit.data.scan, "CHUNK_BYTES", 1024)
    long_line = json.dumps({"text": "x" * 20_000}).encode()
    path = write(lines(chat(1), long_line, chat(2)))
    report = validate(path)
    issue = next(i for i in report.issues if i.code == "line_too_long")
    assert issue.line == 2
    assert report.stats.examples == 3


def test_provider_rules_come_from_the_catalog(write, monkeypatch):
    import ftkit.data.validator as module

    rules = ProviderRules("acme", min_examples=1, max_file_bytes=100, formats=frozenset({"chat"}),
                          methods=frozenset({"sft"}), max_tokens_per_example=20)
    monkeypatch.setattr(module, "rules_for", lambda provider, model: rules)
    report = validate(write(lines(*GOOD_CHAT)), provider="acme", method="dpo")
    assert {"file_too_large", "method_not_supported", "example_too_long"} <= set(report.issue_counts)
    ok = validate(write(lines({"messages": [msg(U, "a"), msg(A, "b")]})), provider="acme", method="sft")
    assert ok.ok, ok.issues


def test_missing_and_empty_files(tmp_path, write):
    report = validate(tmp_path / "nope.jsonl")
    assert [i.code for i in report.issues] == ["file_missing"] and not report.ok
    assert "empty_file" in validate(write(b"")).issue_counts


def test_max_issues_caps_the_list_but_counts_everything(write):
    path = write(b"{bad\n" * 30)
    report = validate(path, max_issues=5)
    assert len(report.issues) == 5
    assert report.omitted_issues == 25
    assert report.issue_counts["invalid_json"] == 30
