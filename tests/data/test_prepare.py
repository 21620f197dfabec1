"""materialize / iter_records, split and dedup."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftkit.data import dedup, iter_records, materialize, split, validate
from ftkit.errors import ConfigError
from tests.data.data_rows import chat, rows_of


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_materialize_is_content_addressed_and_accepts_every_source(tmp_path, write):
    import datasets
    import pandas as pd

    rows = rows_of("classification", 3)
    first = materialize(rows, tmp_path / "m")
    assert first.parent == (tmp_path / "m").resolve() and _read(first) == rows
    assert materialize(list(rows), tmp_path / "m") == first
    assert materialize(pd.DataFrame(rows), tmp_path / "m") == first
    assert materialize(datasets.Dataset.from_list(rows), tmp_path / "m") == first
    path = write(rows)
    assert materialize(str(path), tmp_path / "m") == path.resolve()
    with pytest.raises(ConfigError, match="missing"):
        materialize(tmp_path / "nope.jsonl", tmp_path)
    assert not list((tmp_path / "m").glob("*.tmp"))


def test_iter_records_numbers_lines_and_skips_blanks(write):
    path = write(b'{"text": "a"}\n\n{"text": "b"}\n')
    assert list(iter_records(path)) == [(1, {"text": "a"}), (3, {"text": "b"})]
    assert list(iter_records([{"text": "a"}])) == [(1, {"text": "a"})]
    with pytest.raises(ConfigError, match=":2:"):
        list(iter_records(write(b'{"text": "a"}\n{oops\n')))


def test_validate_accepts_in_memory_data():
    assert validate(rows_of("chat", 3)).stats.examples == 3


def test_split_dedups_first_is_deterministic_and_disjoint(write, tmp_path):
    rows = [*rows_of("chat", 100), chat(5), chat(17)]
    source = write(rows)
    a = split(source, tmp_path / "a", train=0.8, validation=0.1, test=0.1, seed=3)
    b = split(source, tmp_path / "b", train=0.8, validation=0.1, test=0.1, seed=3)
    c = split(source, tmp_path / "c", train=0.8, validation=0.1, test=0.1, seed=4)
    assert a.counts == {"train": 80, "validation": 10, "test": 10}
    assert {r.line for r in a.removed} == {101, 102}
    assert all(_read(a.paths[k]) == _read(b.paths[k]) for k in a.paths)
    assert _read(a.paths["test"]) != _read(c.paths["test"])
    seen = [json.dumps(r, sort_keys=True) for k in a.paths for r in _read(a.paths[k])]
    assert len(seen) == len(set(seen)) == 100
    report = validate(a.paths["train"], validation=a.paths["validation"], test=a.paths["test"])
    assert not {"leakage", "near_leakage"} & set(report.issue_counts)


def test_split_stratifies_by_label(write, tmp_path):
    rows = [{"text": f"item {i} " + " ".join(f"u{i}v{k}" for k in range(6)), "label": "rare" if i % 5 == 0 else "common"}
            for i in range(200)]
    result = split(write(rows), tmp_path, train=0.5, validation=0.5, test=0.0, stratify=True)
    for name in ("train", "validation"):
        labels = [r["label"] for r in _read(result.paths[name])]
        assert labels.count("rare") == 20 and labels.count("common") == 80
    with pytest.raises(ConfigError, match="stratify"):
        split(write(rows_of("chat", 10)), tmp_path / "x", stratify=True)
    with pytest.raises(ConfigError, match="add up"):
        split(write(rows), tmp_path / "y", train=0.9, validation=0.9, test=0.0)


def test_dedup_removes_exact_and_near_copies(write, tmp_path):
    base = rows_of("chat", 1)[0]
    near = json.loads(json.dumps(base))
    near["messages"][1]["content"] = near["messages"][1]["content"] + " " + " ".join(f"k{i}" for i in range(60))
    base["messages"][1]["content"] += " " + " ".join(f"k{i}" for i in range(61))
    rows = [base, *rows_of("chat", 4)[1:], base, near]
    result = dedup(write(rows), tmp_path / "out.jsonl")
    assert [(r.line, r.duplicate_of, r.kind) for r in result.removed] == [(5, 1, "duplicate"), (6, 1, "near_duplicate")]
    assert result.kept == 4 and len(_read(result.path)) == 4
    exact_only = dedup(write(rows), tmp_path / "out2.jsonl", threshold=None)
    assert [r.kind for r in exact_only.removed] == ["duplicate"]
