"""Duplicates as clusters: one issue per group of copies in a file, and leakage between the files.

A file built from templates holds thousands of near-copies in a handful of families; one warning per
copy buries everything else. Inside a file, exact copies form one ``duplicate`` cluster per distinct
example, and near-copies (MinHash pairs at or above the threshold, linked transitively) one
``near_duplicate`` cluster per connected group. A cluster's representative is its first line, the one
``ftkit dedup`` keeps; its members are every line of the cluster. Every line that has an earlier copy in
its file is a member of a cluster, so nothing a per-line report would name is missing.

Between files (train, then validation, then test), each line with a copy in an earlier file is reported
on its own as ``leakage`` / ``near_leakage``: those lines have to move, one by one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from ftkit.data.codes import RawIssue
from ftkit.data.lsh import SignatureStore, near_duplicate_pairs
from ftkit.data.scan import FileScan

__all__ = ["MAX_RELATED", "duplicate_issues"]

MAX_RELATED = 10
_PREVIEW = 5


def duplicate_issues(scans: list[FileScan], threshold: float) -> dict[str, list[RawIssue]]:
    """Exact and near-duplicate clusters inside each file, and leakage between files (by role)."""
    out: dict[str, list[RawIssue]] = {s.role: [] for s in scans}
    sizes = [len(s.hashes) for s in scans]
    if sum(sizes) == 0:
        return out
    hashes = np.concatenate([s.hashes for s in scans])
    file_of = np.repeat(np.arange(len(scans)), sizes)
    lines = np.concatenate([s.lines for s in scans])
    _, first, group = np.unique(hashes, return_index=True, return_inverse=True)
    group = group.reshape(-1)
    is_first = first[group] == np.arange(len(hashes))
    copied = np.flatnonzero(np.isin(group, group[~is_first]))  # rows of every group with two or more rows
    _exact(out, scans, file_of, lines, group, copied)
    signatures = SignatureStore([block for s in scans for block in s.signatures.blocks])
    key_blocks = [block for s in scans for block in s.band_keys]
    keys = np.concatenate(key_blocks) if key_blocks else None  # computed by the workers, block by block
    if keys is not None and len(keys) != len(hashes):
        keys = None
    later, earlier, _ = near_duplicate_pairs(signatures, threshold, candidates=is_first, keys=keys)
    _near(out, scans, file_of, lines, later, earlier, threshold)
    return out


def _exact(out: dict[str, list[RawIssue]], scans: list[FileScan], file_of: np.ndarray, lines: np.ndarray,
           group: np.ndarray, rows: np.ndarray) -> None:
    if not len(rows):
        return
    # by group, then file, then file order: each run of one (group, file) is one cluster
    rows = rows[np.lexsort((rows, file_of[rows], group[rows]))]
    groups, files = group[rows], file_of[rows]
    group_starts = np.flatnonzero(np.diff(groups)) + 1
    run_cuts = np.flatnonzero((np.diff(groups) != 0) | (np.diff(files) != 0)) + 1
    for members in np.split(rows, run_cuts):
        if len(members) > 1:
            same = lines[members]
            out[scans[file_of[members[0]]].role].append(_cluster(
                "duplicate", same, f"line {int(same[0])} and {len(same) - 1} exact "
                                   f"cop{'y' if len(same) == 2 else 'ies'} of it"))
    if len(scans) == 1:
        return
    bounds = np.concatenate(([0], group_starts))
    spans = np.flatnonzero(np.minimum.reduceat(files, bounds) != np.maximum.reduceat(files, bounds))
    by_group = np.split(rows, group_starts)
    for members in (by_group[i] for i in spans):  # copies in a later file than the first copy: each leaks
        files_here = file_of[members]
        for row in members[files_here > files_here.min()]:
            _leak(out, scans, file_of, lines, int(row), members[files_here < file_of[row]], "leakage",
                  "an exact copy of")


def _near(out: dict[str, list[RawIssue]], scans: list[FileScan], file_of: np.ndarray, lines: np.ndarray,
          later: np.ndarray, earlier: np.ndarray, threshold: float) -> None:
    same = file_of[later] == file_of[earlier]
    what = f"near-copies (Jaccard >= {threshold:g}"
    for members in _components(later[same], earlier[same]):
        member_lines = lines[members]
        out[scans[file_of[members[0]]].role].append(_cluster(
            "near_duplicate", member_lines,
            f"line {int(member_lines[0])} and {len(members) - 1} {what} to another line of the group)",
        ))
    by_row: dict[int, list[int]] = defaultdict(list)
    for a, b in zip(later[~same].tolist(), earlier[~same].tolist(), strict=True):
        by_row[a].append(b)
    for row, earlier_rows in sorted(by_row.items()):
        _leak(out, scans, file_of, lines, row, np.asarray(sorted(earlier_rows)), "near_leakage",
              f"a near-copy (Jaccard >= {threshold:g}) of")


def _components(a: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
    """Connected groups of the graph with edges ``a[i] - b[i]`` (row numbers), each sorted, by first row."""
    if not len(a):
        return []
    nodes, index = np.unique(np.concatenate((a, b)), return_inverse=True)
    left, right = index[: len(a)], index[len(a) :]
    label = np.arange(len(nodes))
    while True:  # labels only decrease, so this ends; hooking plus pointer jumping takes a few rounds
        low = np.minimum(label[left], label[right])
        new = label.copy()
        np.minimum.at(new, label[left], low)
        np.minimum.at(new, label[right], low)
        new = new[new]
        while not np.array_equal(new, new[new]):
            new = new[new]
        if np.array_equal(new, label):
            break
        label = new
    order = np.lexsort((nodes, label))
    cuts = np.flatnonzero(np.diff(label[order])) + 1
    groups = [nodes[g] for g in np.split(order, cuts)]
    groups.sort(key=lambda g: int(g[0]))
    return groups


def _cluster(code: str, member_lines: np.ndarray, what: str) -> RawIssue:
    members = tuple(int(x) for x in member_lines)
    shown = ", ".join(map(str, members[1 : _PREVIEW + 1]))
    more = f" and {len(members) - 1 - _PREVIEW:,} more" if len(members) - 1 > _PREVIEW else ""
    return RawIssue(code, members[0], None, f"{what}: line{'s' if len(members) > 2 else ''} {shown}{more}",
                    related_lines=members[1 : MAX_RELATED + 1], count=len(members), members=members)


def _leak(out: dict[str, list[RawIssue]], scans: list[FileScan], file_of: np.ndarray, lines: np.ndarray,
          row: int, earlier: Sequence[int] | np.ndarray, code: str, what: str) -> None:
    """One issue per earlier file holding a copy of ``row``, naming that file's copies."""
    earlier = np.asarray(earlier)
    here = int(file_of[row])
    for other in sorted({int(f) for f in file_of[earlier]} - {here}):
        other_lines = [int(x) for x in lines[earlier[file_of[earlier] == other]]]
        out[scans[here].role].append(RawIssue(
            code, int(lines[row]), None,
            f"{what} {scans[other].role} line {other_lines[0]} ({scans[other].path.name})",
            related_lines=tuple(other_lines[:MAX_RELATED]),
        ))
