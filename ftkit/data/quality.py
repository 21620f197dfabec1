"""Whole-dataset checks that need every example: duplicates, leakage, labels, system prompts, formats.

Each function takes the streamed ``FileScan`` results and returns ``RawIssue`` objects.
"""

from __future__ import annotations

import re
from collections import defaultdict

import numpy as np

from ftkit.data._chunk import FORMAT_IDS
from ftkit.data.codes import RawIssue
from ftkit.data.minhash import SignatureStore, near_duplicate_pairs
from ftkit.data.scan import FileScan

__all__ = [
    "duplicate_issues",
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


def duplicate_issues(scans: list[FileScan], threshold: float) -> dict[str, list[RawIssue]]:
    """Exact and near duplicates inside each file, and leakage between files (by role)."""
    out: dict[str, list[RawIssue]] = {s.role: [] for s in scans}
    sizes = [len(s.hashes) for s in scans]
    if sum(sizes) == 0:
        return out
    hashes = np.concatenate([s.hashes for s in scans])
    file_of = np.repeat(np.arange(len(scans)), sizes)
    lines = np.concatenate([s.lines for s in scans])
    _, first, group = np.unique(hashes, return_index=True, return_inverse=True)
    is_first = first[group] == np.arange(len(hashes))
    members: dict[int, list[int]] = defaultdict(list)
    for row in np.flatnonzero(~is_first | np.isin(group, group[~is_first])):
        members[int(group[row])].append(int(row))
    for rows in members.values():
        for k, row in enumerate(rows[1:], start=1):
            earlier = rows[:k]
            _add(out, scans, file_of, lines, row, earlier, "duplicate", "leakage", "an exact copy of")
    signatures = SignatureStore([block for s in scans for block in s.signatures.blocks])
    later, earlier, _ = near_duplicate_pairs(signatures, threshold, candidates=is_first)
    by_row: dict[int, list[int]] = defaultdict(list)
    for a, b in zip(later.tolist(), earlier.tolist(), strict=True):
        by_row[a].append(b)
    for row, earlier_rows in sorted(by_row.items()):
        _add(out, scans, file_of, lines, row, sorted(earlier_rows), "near_duplicate", "near_leakage",
             f"a near-copy (Jaccard >= {threshold:g}) of")
    return out


def _add(out: dict[str, list[RawIssue]], scans: list[FileScan], file_of: np.ndarray, lines: np.ndarray,
         row: int, earlier: list[int], same_code: str, cross_code: str, what: str) -> None:
    here = int(file_of[row])
    same = [int(lines[r]) for r in earlier if file_of[r] == here]
    if same:
        out[scans[here].role].append(RawIssue(
            same_code, int(lines[row]), None, f"{what} line {same[0]}" + (f" and {len(same) - 1} more line(s)"
                                                                          if len(same) > 1 else ""),
            related_lines=tuple(same[:MAX_RELATED]),
        ))
    for other in sorted({int(file_of[r]) for r in earlier} - {here}):
        other_lines = [int(lines[r]) for r in earlier if file_of[r] == other]
        out[scans[here].role].append(RawIssue(
            cross_code, int(lines[row]), None,
            f"{what} {scans[other].role} line {other_lines[0]} ({scans[other].path.name})",
            related_lines=tuple(other_lines[:MAX_RELATED]),
        ))
