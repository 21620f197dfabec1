"""Arbitrary bytes and arbitrary JSON: the validator always returns a report and the CLI never crashes."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftkit.cli import main
from ftkit.data import validate
from ftkit.data.report import ValidationReport

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
keys = st.sampled_from(["messages", "role", "content", "text", "label", "prompt", "completion", "chosen",
                        "rejected", "input", "preferred_output", "non_preferred_output", "tools", "tool_calls",
                        "weight", "instruction", "output", "name", "function"])
# Values shaped like examples, so the checks beyond "unknown format" are exercised too.
example_like = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 2) | st.text(max_size=8) | st.sampled_from(["user", "assistant",
                                                                                            "system", "tool"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=4),
    max_leaves=25,
)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(st.binary(max_size=400))
def test_arbitrary_bytes_give_a_report(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("b") / "data.jsonl"
    path.write_bytes(data)
    report = validate(path, count_tokens=False)
    assert isinstance(report, ValidationReport)
    assert report.ok == (not report.errors)


@SETTINGS
@given(st.lists(json_values | example_like, min_size=1, max_size=6))
def test_arbitrary_json_values_give_a_report(tmp_path_factory, values):
    path = tmp_path_factory.mktemp("j") / "data.jsonl"
    path.write_text("".join(json.dumps(v) + "\n" for v in values))
    report = validate(path, provider="openai", model="gpt-4o-mini", method="sft", max_seq_length=64)
    assert isinstance(report, ValidationReport)
    assert all(i.code and i.severity in ("error", "warning") and i.hint for i in report.issues)


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=200) | st.lists(example_like, max_size=4).map(
    lambda vs: "".join(json.dumps(v) + "\n" for v in vs).encode()))
def test_cli_never_prints_a_traceback(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("c") / "data.jsonl"
    path.write_bytes(data)
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["validate", str(path), "--json"])
    assert code in (0, 1)
    assert "Traceback" not in out.getvalue() + err.getvalue()
    json.loads(out.getvalue())
