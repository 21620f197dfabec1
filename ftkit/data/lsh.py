"""Near-duplicate pairs among MinHash signatures (``minhash.py``): LSH banding, then a check of each candidate.

Rows are split into bands of a few bins; rows whose band keys agree in any band are candidates, kept when
their estimated Jaccard similarity (the share of equal bins) reaches the threshold. Bands and rows per band
are chosen for the threshold (``optimal_bands``). Band keys depend on one row alone, so the validator's
workers compute them with the signatures (``band_keys``); the search sorts keys (no Python loop per row).

>>> from ftkit.data.minhash import signatures
>>> later, earlier, similarity = near_duplicate_pairs(signatures(["a b c d e f", "a b c d e f g"]), 0.5)
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from ftkit.data.minhash import _M2, EMPTY, NUM_PERM, _mix

__all__ = ["SignatureStore", "band_keys", "near_duplicate_pairs", "optimal_bands"]


@functools.lru_cache(maxsize=32)
def optimal_bands(threshold: float, num_perm: int = NUM_PERM) -> tuple[int, int]:
    """(bands, rows per band) minimising missed pairs (weighted 0.9) and false candidates (0.1).

    Candidates are verified against the threshold afterwards, so a false candidate costs only a comparison
    while a missed pair is a duplicate left in the data: recall is weighted up.
    """
    s = np.linspace(0.0, 1.0, 2001)
    best: tuple[float, int, int] | None = None
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        p = 1.0 - (1.0 - s**rows) ** bands
        error = 0.1 * np.trapezoid(p[s < threshold], s[s < threshold]) + 0.9 * np.trapezoid(
            1.0 - p[s >= threshold], s[s >= threshold]
        )
        if best is None or error < best[0]:
            best = (float(error), bands, rows)
    assert best is not None
    return best[1], best[2]


class SignatureStore:
    """Signature rows kept as the blocks they were computed in: never copied into one big matrix.

    The validator holds one block per chunk of the file; LSH needs only one column at a time and the
    rows of candidate pairs, so peak memory stays at the signatures themselves.
    """

    def __init__(self, blocks: list[np.ndarray] | np.ndarray, num_perm: int = NUM_PERM):
        if isinstance(blocks, np.ndarray):
            blocks = [blocks]
        self.blocks = [b for b in blocks if len(b)]
        self.num_perm = self.blocks[0].shape[1] if self.blocks else num_perm
        self.starts = np.cumsum([0, *(len(b) for b in self.blocks)])

    def __len__(self) -> int:
        return int(self.starts[-1])

    def column(self, j: int) -> np.ndarray:
        if not self.blocks:
            return np.zeros(0, np.uint16)
        return np.concatenate([b[:, j] for b in self.blocks])

    def similarity(self, a: np.ndarray, b: np.ndarray, group: int = 16384) -> np.ndarray:
        """The share of equal bins of rows ``a[i]`` and ``b[i]`` (global indices).

        Pairs are compared by pair of blocks, each block's rows gathered from that block alone (small and
        contiguous, so cheap to read), a few thousand pairs at a time.
        """
        out = np.empty(len(a))
        if not len(a):
            return out
        starts = self.starts
        block_a = np.searchsorted(starts, a, side="right") - 1
        block_b = np.searchsorted(starts, b, side="right") - 1
        order = np.argsort(block_a * len(self.blocks) + block_b, kind="stable")
        pair_of_blocks = (block_a * len(self.blocks) + block_b)[order]
        cuts = np.concatenate(([0], np.flatnonzero(np.diff(pair_of_blocks)) + 1, [len(order)]))
        for lo, hi in itertools.pairwise(cuts.tolist()):
            ka, kb = int(block_a[order[lo]]), int(block_b[order[lo]])
            for start in range(lo, hi, group):
                rows = order[start : min(hi, start + group)]
                equal = self.blocks[ka][a[rows] - starts[ka]] == self.blocks[kb][b[rows] - starts[kb]]
                out[rows] = np.count_nonzero(equal, axis=1) / self.num_perm
        return out

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The signatures of ``rows`` (global indices), in that order."""
        out = np.empty((len(rows), self.num_perm), np.uint16)
        order = np.argsort(rows)
        ordered = rows[order]
        bounds = np.searchsorted(ordered, self.starts)  # rows of block k: ordered[bounds[k]:bounds[k + 1]]
        for k, block in enumerate(self.blocks):
            lo, hi = bounds[k], bounds[k + 1]
            if lo < hi:
                out[order[lo:hi]] = block[ordered[lo:hi] - self.starts[k]]
        return out


def band_keys(signature: np.ndarray, threshold: float) -> np.ndarray:
    """``(len(signature), bands)`` LSH bucket keys of signature rows for ``threshold`` (``optimal_bands``).

    A row's keys depend on that row alone, so each block of a file computes its own (in the worker that
    hashed it) and ``near_duplicate_pairs`` takes them instead of reading the signatures column by column.
    """
    bands, rows = optimal_bands(threshold, signature.shape[1])
    keys = np.zeros((len(signature), bands), dtype=np.uint64)
    for band in range(bands):
        key = keys[:, band]
        for column in range(band * rows, (band + 1) * rows):
            key = _mix(key * _M2 + signature[:, column].astype(np.uint64))
        keys[:, band] = key
    return keys


def _band_keys(store: SignatureStore, rows_considered: np.ndarray, band: int, rows: int) -> np.ndarray:
    key = np.zeros(len(rows_considered), dtype=np.uint64)
    for column in range(band * rows, (band + 1) * rows):
        key = _mix(key * _M2 + store.column(column)[rows_considered].astype(np.uint64))
    return key


def _stable_argsort(keys: np.ndarray) -> np.ndarray:
    """``np.argsort(keys, kind="stable")``, from a fast unstable sort: equal keys are put back in index order."""
    n = len(keys)
    order = np.argsort(keys)
    ordered = keys[order]
    run = np.concatenate(([0], np.cumsum(ordered[1:] != ordered[:-1])))
    composite = run.astype(np.int64) * n + order
    composite.sort()
    return composite % n


def _unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` for integers by sorting (numpy 2's hash-based unique is many times slower here)."""
    values = np.sort(values)
    return values[np.concatenate(([True], values[1:] != values[:-1]))] if len(values) else values


def near_duplicate_pairs(
    signature: np.ndarray | SignatureStore, threshold: float, candidates: np.ndarray | None = None,
    keys: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs ``(later, earlier, similarity)`` of rows whose estimated Jaccard similarity is >= threshold.

    ``candidates`` (bool per row) leaves rows out, e.g. exact duplicates. Rows without words never match.
    ``keys`` are the rows' ``band_keys`` for ``threshold`` when they were computed already.
    Each row is compared with the first and the previous row of every LSH bucket it falls in, so a cluster
    of k near-copies costs O(k) comparisons, not O(k**2).
    """
    store = signature if isinstance(signature, SignatureStore) else SignatureStore(signature)
    n = len(store)
    empty = np.zeros(0, np.int64)
    if n == 0:
        return empty, empty, np.zeros(0)
    has_words = store.column(0) != EMPTY
    rows_considered = np.flatnonzero(has_words if candidates is None else has_words & candidates)
    bands, rows = optimal_bands(threshold, store.num_perm)
    found = np.zeros(0, np.int64)  # distinct candidate pairs so far: merged band by band, to bound memory
    for band in range(bands):
        if keys is not None:
            band_key = keys[rows_considered, band]
        else:
            band_key = _band_keys(store, rows_considered, band, rows)
        order = _stable_argsort(band_key)
        sorted_keys = band_key[order]
        same = sorted_keys[1:] == sorted_keys[:-1]
        if not same.any():
            continue
        run_start = np.maximum.accumulate(np.where(np.concatenate(([False], same)), 0, np.arange(len(order))))
        later = rows_considered[order[1:][same]] * n
        found = _unique(np.concatenate((found, later + rows_considered[order[:-1][same]],
                                        later + rows_considered[order[run_start[1:][same]]])))
    if not len(found):
        return empty, empty, np.zeros(0)
    later, earlier = found // n, found % n
    keep = later != earlier
    later, earlier = later[keep], earlier[keep]
    similarity = store.similarity(later, earlier)
    close = similarity >= threshold - 1e-9
    return later[close], earlier[close], similarity[close]
