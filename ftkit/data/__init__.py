"""Datasets: format detection, conversion per provider, streaming validation, splitting, deduplication.

>>> import ftkit.data as data
>>> report = data.validate("train.jsonl", provider="openai", model="gpt-4o-mini")   # doctest: +SKIP
>>> rows = data.convert("alpaca.jsonl", "openai")                                   # doctest: +SKIP
>>> data.split("all.jsonl", "splits/", train=0.8, validation=0.1, test=0.1, seed=0)  # doctest: +SKIP

Submodules load on first use, so ``import ftkit.data`` costs nothing until a name is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ftkit.data.conversion import FORMATS, DataFormat, convert, label_set
    from ftkit.data.counting import count_dataset
    from ftkit.data.formats import (
        PREFERENCE_FORMATS,
        SFT_FORMATS,
        classification_system_prompt,
        detect_format,
        reference_of,
        to_chat,
    )
    from ftkit.data.prepare import DedupResult, SplitResult, dedup, split
    from ftkit.data.report import DatasetStats, Issue, ValidationReport
    from ftkit.data.source import iter_records, materialize
    from ftkit.data.validator import validate

# Nothing is imported eagerly: the validator's helper processes import ftkit.data._chunk, and building the
# report's pydantic models (~0.2 s) would be paid by every one of them for nothing.
_LAZY = {
    "DatasetStats": "report",
    "Issue": "report",
    "ValidationReport": "report",
    "FORMATS": "conversion",
    "DataFormat": "conversion",
    "convert": "conversion",
    "label_set": "conversion",
    "count_dataset": "counting",
    "PREFERENCE_FORMATS": "formats",
    "SFT_FORMATS": "formats",
    "classification_system_prompt": "formats",
    "detect_format": "formats",
    "reference_of": "formats",
    "to_chat": "formats",
    "DedupResult": "prepare",
    "SplitResult": "prepare",
    "dedup": "prepare",
    "split": "prepare",
    "iter_records": "source",
    "materialize": "source",
    "validate": "validator",
}

__all__ = [
    "FORMATS",
    "PREFERENCE_FORMATS",
    "SFT_FORMATS",
    "DataFormat",
    "DatasetStats",
    "DedupResult",
    "Issue",
    "SplitResult",
    "ValidationReport",
    "classification_system_prompt",
    "convert",
    "count_dataset",
    "dedup",
    "detect_format",
    "iter_records",
    "label_set",
    "materialize",
    "reference_of",
    "split",
    "to_chat",
    "validate",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ftkit.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"ftkit.data.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
