"""convert, dedup and split never replace a file that is already there unless told to (the user's data)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ftkit.data import convert, dedup, split
from ftkit.errors import ConfigError
from ftkit.testing import colour_examples


@pytest.fixture
def data(tmp_path) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in colour_examples(20)), encoding="utf-8")
    return path


def test_existing_outputs_are_refused_before_anything_is_written(data, tmp_path):
    mine = tmp_path / "mine.jsonl"
    mine.write_text("my own notes\n", encoding="utf-8")
    (tmp_path / "train.jsonl").write_text("an earlier split\n", encoding="utf-8")
    before = data.read_bytes()
    for call in (lambda: convert(data, "chat", out=mine), lambda: dedup(data, mine), lambda: dedup(data, data),
                 lambda: split(data, tmp_path)):
        with pytest.raises(ConfigError, match=r"already exist.*overwrite=True"):
            call()
    assert mine.read_text(encoding="utf-8") == "my own notes\n"
    assert (tmp_path / "train.jsonl").read_text(encoding="utf-8") == "an earlier split\n"
    assert not (tmp_path / "validation.jsonl").exists()  # refused as a whole, not file by file
    assert data.read_bytes() == before


def test_overwrite_replaces_them(data, tmp_path):
    mine = tmp_path / "mine.jsonl"
    mine.write_text("old\n", encoding="utf-8")
    convert(data, "chat", out=mine, overwrite=True)
    assert len(mine.read_text(encoding="utf-8").splitlines()) == 20
    (tmp_path / "train.jsonl").write_text("old\n", encoding="utf-8")
    result = split(data, tmp_path, overwrite=True)
    assert result.paths["train"].read_text(encoding="utf-8") != "old\n"


def test_cli_says_what_to_do_and_force_replaces(data, tmp_path):
    out = tmp_path / "dedup.jsonl"
    out.write_text("keep me\n", encoding="utf-8")
    ftkit = [sys.executable, "-m", "ftkit.cli", "dedup", str(data), "--out", str(out)]
    refused = subprocess.run(ftkit, capture_output=True, text=True)
    assert refused.returncode != 0 and "--force" in refused.stderr
    assert out.read_text(encoding="utf-8") == "keep me\n"
    done = subprocess.run([*ftkit, "--force"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert out.read_text(encoding="utf-8") != "keep me\n"
