"""Whole-dataset checks that need every example: labels, system prompts, formats (duplicates: ``_clusters``).

Each function takes the streamed ``FileScan`` results and returns ``RawIssue`` objects.
"""

from __future__ import annotations

import re
from collections import defaultdict

import numpy as np

from ftkit.data._chunk import FORMAT_IDS
from ftkit.data.codes import RawIssue
from ftkit.data.scan import FileScan

__all__ = [
    "format_issues",
    "label_issues",
    "majority_format",
    "size_issues",
    "system_prompt_issues",
]

MAX_RELATED = 10
FORMAT_NAMES = {i: name for name, i in FORMAT_IDS.items()}
MIN_EXAMPLES = 100
MIN_GENERATION_EXAMPLES = 500
MIN_PER_LABEL = 100
IMBALANCE_RATIO = 10.0


def majority_format(scan: FileScan) -> str | None:
    known = scan.format_ids[scan.format_ids > 0]
    if not len(known):
        return None
    return FORMAT_NAMES[int(np.bincount(known).argmax())]


def format_issues(scan: FileScan, fmt: str | None) -> list[RawIssue]:
    """One format per file: lines in another (known) format than the file's majority are errors."""
    if fmt is None:
        return []
    odd = (scan.format_ids > 0) & (scan.format_ids != FORMAT_IDS[fmt])
    return [
        RawIssue("mixed_formats", int(line), None, f"this line is {FORMAT_NAMES[int(f)]} but the file is {fmt}")
        for line, f in zip(scan.format_lines[odd], scan.format_ids[odd], strict=True)
    ]


def size_issues(examples: int, fmt: str | None) -> list[RawIssue]:
    if examples == 0:
        return []
    if examples < MIN_EXAMPLES:
        return [RawIssue("few_examples", None, None, f"only {examples} examples; fine-tuning usually needs at "
                                                     f"least {MIN_EXAMPLES}", count=examples)]
    if examples < MIN_GENERATION_EXAMPLES and fmt != "classification":
        return [RawIssue("few_examples", None, None, f"{examples} examples; generation tasks usually need at "
                                                     f"least {MIN_GENERATION_EXAMPLES}", count=examples)]
    return []


def _label_key(label: str) -> str:
    return re.sub(r"\s+", " ", label).strip().rstrip(".!?,;:").strip().lower()


def label_issues(scan: FileScan) -> list[RawIssue]:
    """Rare labels, imbalance, and spellings of one label that differ in case, spacing or punctuation."""
    labels = scan.labels
    if not labels:
        return []
    issues = []
    rare = {label: n for label, n in labels.items() if n < MIN_PER_LABEL}
    if rare:
        shown = ", ".join(f"{label!r}: {n}" for label, n in sorted(rare.items(), key=lambda x: x[1])[:10])
        issues.append(RawIssue("label_count_low", None, "label", f"{len(rare)} label(s) have fewer than "
                                                                 f"{MIN_PER_LABEL} examples ({shown})", count=len(rare)))
    most, least = max(labels.values()), min(labels.values())
    if len(labels) > 1 and most >= IMBALANCE_RATIO * least:
        common = max(labels, key=labels.__getitem__)
        rarest = min(labels, key=labels.__getitem__)
        issues.append(RawIssue("label_imbalance", None, "label", f"{common!r} has {most} examples, {rarest!r} "
                                                                 f"only {least} ({most / least:.0f}x)"))
    spellings: dict[str, list[str]] = defaultdict(list)
    for label in labels:
        spellings[_label_key(label)].append(label)
    for variants in spellings.values():
        if len(variants) > 1:
            variants.sort(key=lambda v: scan.label_lines[v])
            lines = [scan.label_lines[v] for v in variants]
            issues.append(RawIssue(
                "label_variants", lines[-1], "label",
                "the labels " + ", ".join(f"{v!r} ({labels[v]})" for v in variants) + " look like one label",
                related_lines=tuple(lines[:-1]), count=sum(labels[v] for v in variants),
            ))
    return issues


def system_prompt_issues(scan: FileScan) -> list[RawIssue]:
    n, with_system = len(scan.has_system), int(scan.has_system.sum())
    if n == 0 or with_system in (0, n):
        return []
    minority_has = with_system < n - with_system
    minority = np.flatnonzero(scan.has_system == minority_has)
    which = "have" if minority_has else "lack"
    return [RawIssue(
        "system_prompt_inconsistent", int(scan.lines[minority[0]]), "messages[0]",
        f"{len(minority)} of {n} examples {which} a system prompt",
        related_lines=tuple(int(x) for x in scan.lines[minority[1 : MAX_RELATED + 1]]), count=len(minority),
    )]
