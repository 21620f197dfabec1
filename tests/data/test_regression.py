"""The full report on a generated file with known problems of every kind is pinned, issue by issue.

``regression_expected.json`` holds two reports of the same files (``regression_rows.py``) and settings:

* ``before``: what ftkit reported before the fast path and duplicate clusters (commit 72a662f): every issue
  except duplicates in full, and the lines it reported as duplicates and near-duplicates, one per line;
* ``pinned``: today's report, every issue with its message, lines and clusters.

Today's report must equal ``pinned`` (on one core and on two, in small blocks), and ``pinned`` must hold
everything ``before`` found: the same issues, and every line reported as a copy then is in a cluster now.
When a change alters the report on purpose, regenerate ``pinned`` and keep this second check passing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ftkit.data import validate
from tests.data.regression_rows import problem_files

EXPECTED = json.loads((Path(__file__).parent / "regression_expected.json").read_text())
CLUSTERED = ("duplicate", "near_duplicate")


def _report(tmp_path: Path, **kwargs: Any) -> dict[str, Any]:
    train_bytes, validation_bytes = problem_files()
    train, validation = tmp_path / "train.jsonl", tmp_path / "validation.jsonl"
    train.write_bytes(train_bytes)
    validation.write_bytes(validation_bytes)
    report = validate(train, provider="openai", model="gpt-4o-mini-2024-07-18", max_seq_length=256,
                      validation=validation, **kwargs)
    issues = []
    for issue in report.issues:
        entry = issue.model_dump(mode="json", exclude={"hint"})
        if entry["file"]:
            entry["file"] = Path(entry["file"]).name
        if entry["cluster"] is None:
            del entry["cluster"]
        issues.append(entry)
    return {"ok": report.ok, "stats": report.stats.model_dump(mode="json"),
            "validation_stats": report.files["validation"].model_dump(mode="json"), "issues": issues}


def _assert_same(report: dict[str, Any], pinned: dict[str, Any]) -> None:
    assert report["ok"] == pinned["ok"]
    assert report["stats"] == pinned["stats"]
    assert report["validation_stats"] == pinned["validation_stats"]
    assert len(report["issues"]) == len(pinned["issues"])
    for got, want in zip(report["issues"], pinned["issues"], strict=True):
        assert got == want


def test_the_report_is_the_pinned_one(tmp_path):
    _assert_same(_report(tmp_path, workers=1), EXPECTED["pinned"])


@pytest.mark.slow
def test_the_report_is_the_pinned_one_in_small_blocks_on_two_processes(tmp_path, monkeypatch):
    import ftkit.data.scan

    monkeypatch.setattr(ftkit.data.scan, "CHUNK_BYTES", 16 * 1024)  # many blocks, split between processes
    _assert_same(_report(tmp_path, workers=2), EXPECTED["pinned"])


def test_nothing_found_before_is_lost():
    before, pinned = EXPECTED["before"], EXPECTED["pinned"]
    assert (pinned["ok"], pinned["stats"], pinned["validation_stats"]) == (
        before["ok"], before["stats"], before["validation_stats"])
    assert [i for i in pinned["issues"] if i["code"] not in CLUSTERED] == before["other_issues"]
    for code in CLUSTERED:
        clusters = [i for i in pinned["issues"] if i["code"] == code]
        copies = {(i.get("file") or "", line) for i in clusters for line in i["cluster"]["members"][1:]}
        reported_before = {tuple(x) for x in before["lines"][code]}
        assert reported_before <= copies, f"{code}: lines reported before are in no cluster"
        if code == "duplicate":  # exact copies: the same lines, grouped
            assert copies == reported_before
    assert len(before["lines"]["duplicate"]) == 644 and len(before["lines"]["near_duplicate"]) == 51


def test_clusters_are_consistent():
    for issue in EXPECTED["pinned"]["issues"]:
        cluster = issue.get("cluster")
        if issue["code"] in CLUSTERED:
            assert cluster is not None
            members = cluster["members"]
            assert cluster["size"] == len(members) == issue["count"] >= 2
            assert cluster["representative"] == members[0] == issue["line"] and members == sorted(set(members))
            assert issue["related_lines"] == members[1:11]
        else:
            assert cluster is None
