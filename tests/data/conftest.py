"""Fixtures of the data tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def write(tmp_path: Path):
    """write(rows or raw bytes, name="data.jsonl") -> Path."""

    def _write(rows: list[Any] | bytes, name: str = "data.jsonl") -> Path:
        path = tmp_path / name
        if isinstance(rows, bytes):
            path.write_bytes(rows)
        else:
            path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        return path

    return _write
