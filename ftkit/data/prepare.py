"""Preparing data: deduplicate, then split into train / validation / test deterministically.

>>> result = split("all.jsonl", "splits", train=0.8, validation=0.1, test=0.1, seed=0)  # doctest: +SKIP
>>> result.paths["train"], result.counts                                               # doctest: +SKIP
(PosixPath('splits/train.jsonl'), {'train': 800, 'validation': 100, 'test': 100})

Both read the source twice (fingerprints first, then the rows to write), so memory stays at about 550
bytes per example whatever the file size.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ftkit.data.checks import check_example
from ftkit.data.lsh import near_duplicate_pairs
from ftkit.data.minhash import signatures
from ftkit.data.source import iter_records, refuse_to_replace
from ftkit.errors import ConfigError

__all__ = ["DedupResult", "Removed", "SplitResult", "dedup", "split"]

_BATCH = 2000


@dataclass(frozen=True)
class Removed:
    line: int
    duplicate_of: int
    kind: str  # "duplicate" or "near_duplicate"
    similarity: float = 1.0


@dataclass
class DedupResult:
    path: Path
    kept: int
    removed: list[Removed] = field(default_factory=list)


@dataclass
class SplitResult:
    paths: dict[str, Path]
    counts: dict[str, int]
    removed: list[Removed] = field(default_factory=list)


def _fingerprints(source: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str | None]]:
    """(lines, content hashes, MinHash signatures, labels) of every row."""
    lines: list[int] = []
    hashes: list[int] = []
    labels: list[str | None] = []
    sigs: list[np.ndarray] = []
    texts: list[str] = []
    for line, example in iter_records(source):
        facts = check_example(example, line)
        text = facts.text if facts.canonical is not None else json.dumps(example, sort_keys=True, default=str)
        lines.append(line)
        labels.append(facts.label)
        hashes.append(int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
                                     "little"))
        texts.append(text)
        if len(texts) == _BATCH:
            sigs.append(signatures(texts))
            texts = []
    sigs.append(signatures(texts))
    return np.asarray(lines, np.int64), np.asarray(hashes, np.uint64), np.concatenate(sigs), labels


def _duplicates(lines: np.ndarray, hashes: np.ndarray, sigs: np.ndarray, threshold: float | None) -> list[Removed]:
    """Rows to drop: every later exact copy, then every later near-copy of a kept row."""
    _, first, group = np.unique(hashes, return_index=True, return_inverse=True)
    is_first = first[group] == np.arange(len(hashes))
    removed = {int(r): Removed(int(lines[r]), int(lines[first[group[r]]]), "duplicate")
               for r in np.flatnonzero(~is_first)}
    if threshold is not None:
        later, earlier, similarity = near_duplicate_pairs(sigs, threshold, candidates=is_first)
        for a, b, s in sorted(zip(later.tolist(), earlier.tolist(), similarity.tolist(), strict=True)):
            if a not in removed and b not in removed:
                removed[a] = Removed(int(lines[a]), int(lines[b]), "near_duplicate", round(s, 3))
    return [removed[r] for r in sorted(removed)]


def _write_rows(source: Any, targets: dict[int, Path], destination_of: dict[int, int]) -> None:
    """Stream the source once more, writing each kept line to its file (atomically per file)."""
    handles = {}
    temps = {}
    try:
        for key, path in targets.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            handles[key], temps[key] = os.fdopen(fd, "w", encoding="utf-8"), tmp
        for line, example in iter_records(source):
            key = destination_of.get(line)
            if key is not None:
                handles[key].write(json.dumps(example, ensure_ascii=False) + "\n")
        for key, handle in handles.items():
            handle.close()
            os.replace(temps[key], targets[key])
    finally:
        for key, handle in handles.items():
            handle.close()
            Path(temps[key]).unlink(missing_ok=True)


def dedup(source: Any, out: str | os.PathLike[str], *, threshold: float | None = 0.9,
          overwrite: bool = False) -> DedupResult:
    """Write ``source`` without exact duplicates and (unless ``threshold`` is None) near-duplicates. An
    existing ``out`` (the input itself included) is refused unless ``overwrite=True``."""
    refuse_to_replace([Path(out)], overwrite=overwrite, what="dedup")
    lines, hashes, sigs, _ = _fingerprints(source)
    removed = _duplicates(lines, hashes, sigs, threshold)
    dropped = {r.line for r in removed}
    out = Path(out)
    _write_rows(source, {0: out}, {int(x): 0 for x in lines if int(x) not in dropped})
    return DedupResult(path=out, kept=len(lines) - len(dropped), removed=removed)


def split(
    source: Any,
    out_dir: str | os.PathLike[str],
    *,
    train: float = 0.8,
    validation: float = 0.1,
    test: float = 0.1,
    seed: int = 0,
    stratify: bool = False,
    threshold: float | None = 0.9,
    overwrite: bool = False,
) -> SplitResult:
    """Deduplicate, then split into ``train.jsonl``, ``validation.jsonl`` and ``test.jsonl`` in ``out_dir``.

    Duplicates go first, so no example (or near-copy) lands in two splits. The same seed gives the same
    split. ``stratify`` keeps each label's share equal across splits (classification data). A fraction of
    0 skips that file. Files of those names already in ``out_dir`` are refused unless ``overwrite=True``.
    """
    fractions = {"train": train, "validation": validation, "test": test}
    if any(f < 0 for f in fractions.values()) or not 0.999 <= sum(fractions.values()) <= 1.001:
        raise ConfigError(f"Split fractions must be >= 0 and add up to 1, got {fractions}.")
    refuse_to_replace([Path(out_dir) / f"{n}.jsonl" for n, f in fractions.items() if f > 0], overwrite=overwrite,
                      what="split")
    lines, hashes, sigs, labels = _fingerprints(source)
    removed = _duplicates(lines, hashes, sigs, threshold)
    dropped = {r.line for r in removed}
    keep = np.asarray([i for i, line in enumerate(lines.tolist()) if line not in dropped], np.int64)
    rng = np.random.default_rng(seed)
    if stratify:
        if all(label is None for label in labels):
            raise ConfigError("--stratify needs classification data (a label on every example).")
        groups: dict[str, list[int]] = {}
        for i in keep.tolist():
            groups.setdefault(str(labels[i]), []).append(i)
        strata = [np.asarray(groups[k]) for k in sorted(groups)]
    else:
        strata = [keep]
    names = [n for n, f in fractions.items() if f > 0]
    assignment: dict[int, int] = {}
    for stratum in strata:
        order = rng.permutation(stratum)
        bounds = np.cumsum([fractions[n] for n in names])
        cuts = np.round(bounds * len(order)).astype(int)
        start = 0
        for k, cut in enumerate(cuts):
            for i in order[start:cut].tolist():
                assignment[int(lines[i])] = k
            start = cut
    out = Path(out_dir)
    paths = {k: out / f"{name}.jsonl" for k, name in enumerate(names)}
    _write_rows(source, paths, assignment)
    counts = {name: sum(1 for v in assignment.values() if v == k) for k, name in enumerate(names)}
    return SplitResult(paths={names[k]: p for k, p in paths.items()}, counts=counts, removed=removed)
