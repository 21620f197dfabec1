"""Datasets: format detection, conversion per provider, streaming validation, splitting, deduplication.

>>> import ftkit.data as data
>>> report = data.validate("train.jsonl", provider="openai", model="gpt-4o-mini")   # doctest: +SKIP
>>> rows = data.convert("alpaca.jsonl", "openai")                                   # doctest: +SKIP
>>> data.split("all.jsonl", "splits/", train=0.8, validation=0.1, test=0.1, seed=0)  # doctest: +SKIP
"""

from ftkit.data.convert import TARGETS, convert, label_set
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

__all__ = [
    "PREFERENCE_FORMATS",
    "SFT_FORMATS",
    "TARGETS",
    "DatasetStats",
    "DedupResult",
    "Issue",
    "SplitResult",
    "ValidationReport",
    "classification_system_prompt",
    "convert",
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
