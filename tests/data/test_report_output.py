"""What a person reads: clusters of copies, a summary per code first, a few entries per code, empty files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ftkit.cli import main
from ftkit.data import validate
from tests.data.data_rows import chat, rows_of

BASE = " ".join(f"w{x}" for x in np.random.default_rng(7).integers(0, 10**6, 300))


def _family(k: int) -> dict:
    """Near-copies of one long text: each changes a different word (pairwise Jaccard about 0.96)."""
    words = BASE.split()
    words[5 + 9 * k] = f"changed{k}"
    text = " ".join(words)
    return {"messages": [{"role": "user", "content": text}, {"role": "assistant", "content": "ok"}]}


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def noisy(write):
    """30 near-copies spread over the file, 4 copies of one example, 12 distinct broken lines."""
    rows: list = [*rows_of("chat", 40)]
    for k in range(30):
        rows.insert(1 + 3 * k, _family(k))
    for position in (2, 20, 50, 70):
        rows.insert(position, chat(999))
    rows += [{"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": i}]}
             for i in range(12)]
    return write(rows), rows


def test_near_duplicates_are_one_cluster_in_the_json(capsys, noisy):
    path, rows = noisy
    code, out, _ = run(capsys, "validate", str(path), "--json")
    data = json.loads(out)
    family = [i + 1 for i, r in enumerate(rows) if r in [_family(k) for k in range(30)]]
    copies = [i + 1 for i, r in enumerate(rows) if r == chat(999)]
    near = [i for i in data["issues"] if i["code"] == "near_duplicate"]
    assert len(near) == 1
    assert near[0]["cluster"] == {"size": 30, "representative": family[0], "members": family}
    assert near[0]["line"] == family[0] and near[0]["related_lines"] == family[1:11]
    assert "29 near-copies" in near[0]["message"]
    dup = [i for i in data["issues"] if i["code"] == "duplicate"]
    assert [d["cluster"] for d in dup] == [{"size": 4, "representative": copies[0], "members": copies}]
    assert data["issue_counts"]["near_duplicate"] == 1 and data["clustered_lines"] == {
        "duplicate": 4, "near_duplicate": 30}
    assert code == 1  # the broken lines


def test_readable_report_leads_with_a_summary_per_code(capsys, noisy):
    path, _ = noisy
    code, out, _ = run(capsys, "validate", str(path))
    assert code == 1
    assert "\x1b[" not in out and "─" not in out and "│" not in out  # piped: plain text, no styling or boxes
    summary = out.index("Issues by code")
    lines = out[summary:].splitlines()
    assert lines[1].split() == ["wrong_type", "error", "12"]  # errors first, then by count
    assert {"near_duplicate", "warning", "1", "group(s),", "30", "lines"} <= set(" ".join(lines[1:6]).split())
    entries = out.index("wrong_type (error, 12): the first 5")
    assert summary < entries < out.index("near_duplicate (warning, 1 group(s))")
    section = out[entries:].split("\n\n")[0].splitlines()
    assert len([s for s in section if "expected a string, got number" in s]) == 5
    assert "... 7 more (--max-issues N lists N per code)" in section[-1]
    assert out.rstrip().endswith("has errors: 12 error(s), 4 warning(s)")


def test_max_issues_lists_more_entries_per_code(capsys, noisy):
    path, _ = noisy
    _, out, _ = run(capsys, "validate", str(path), "--max-issues", "20")
    assert out.count("expected a string, got number") == 12 and "more (--max-issues" not in out
    _, out, _ = run(capsys, "validate", str(path), "--max-issues", "1")
    assert out.count("expected a string, got number") == 1 and "... 11 more" in out
    _, out, _ = run(capsys, "validate", str(path), "--json", "--max-issues", "3")
    data = json.loads(out)
    assert len(data["issues"]) == 3 and data["omitted_issues"] == sum(data["issue_counts"].values()) - 3


@pytest.mark.parametrize(("content", "why"), [(b"", "it is empty"), (b"\n\n   \n\t\n", "it has only blank lines"),
                                              (b"\xef\xbb\xbf\n", "it has only blank lines")])
def test_a_file_without_examples_is_an_error(capsys, write, content, why):
    path = write(content)
    report = validate(path)
    assert not report.ok and report.issue_counts.get("empty_file") == 1
    issue = next(i for i in report.issues if i.code == "empty_file")
    assert issue.severity == "error" and issue.message == f"{path.name} holds no examples: {why}"
    code, out, _ = run(capsys, "validate", str(path))
    assert code == 1 and f"holds no examples: {why}" in out and "has errors" in out
    code, out, _ = run(capsys, "validate", str(path), "--json")
    assert code == 1 and json.loads(out)["ok"] is False


def test_an_empty_validation_file_is_an_error_too(write):
    train = write(rows_of("chat", 12), "train.jsonl")
    report = validate(train, validation=write(b"\n", "val.jsonl"))
    issue = next(i for i in report.issues if i.code == "empty_file")
    assert issue.file and issue.file.endswith("val.jsonl") and not report.ok
