"""Datasets: format detection, conversion per provider, streaming validation, splitting, deduplication."""

from ftkit.data.report import DatasetStats, Issue, ValidationReport

__all__ = ["DatasetStats", "Issue", "ValidationReport"]
