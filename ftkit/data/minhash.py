"""Near-duplicate detection: MinHash signatures of word shingles, computed for whole batches with numpy.

A per-example MinHash (datasketch) hashes every shingle once per permutation in Python, a few thousand
examples a second. Here one batch of texts is hashed at once:

1. words: the batch is joined, lower-cased and encoded once; word boundaries and a polynomial hash of each
   word's bytes come from array operations (a prefix sum of ``byte * B**i``, the Rabin-Karp trick);
2. shingles: three consecutive words of one example (fewer when the example is shorter), mixed to 64 bits;
3. signature: one-permutation hashing (Li, Owen & Zhang 2012): a shingle's top bits pick one of
   ``num_perm`` bins, each bin keeps its minimum; empty bins borrow another bin's value (densification,
   Shrivastava 2017). The estimate of Jaccard similarity is the share of equal bins: unbiased, with a
   standard deviation of about 0.04 at 128 bins (measured against exact Jaccard, 12 to 300 words).

Hashes are deterministic (no per-process seed), so results are the same in every worker and every run.
Finding the pairs above a threshold among the signatures is ``lsh.py``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["EMPTY", "NUM_PERM", "signatures"]

NUM_PERM = 128
SHINGLE_WORDS = 3
_EMPTY32 = np.uint32(0xFFFFFFFF)  # a bin no shingle fell into (while computing)
EMPTY = np.uint16(0xFFFF)  # in a finished signature, a row of these means "the text has no words"

_BASE = np.uint64(0x100000001B3)  # odd, so invertible modulo 2**64
_BASE_INVERSE = np.uint64(pow(0x100000001B3, -1, 2**64))
_M1, _M2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F)
_ROTATION_STEP = np.uint32(0x9E3779B1)

# Bytes that separate words: NUL (between examples), ASCII whitespace and punctuation.
_SEPARATOR = np.zeros(256, dtype=bool)
_SEPARATOR[[0, *b" \t\n\r\x0b\x0c", *b"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"]] = True


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads every input bit over the output (wrapping uint64 arithmetic)."""
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


class _Powers:
    """``B**i`` and ``B**-i`` modulo 2**64 for i < n, grown on demand and shared by every batch."""

    def __init__(self) -> None:
        self.forward = np.ones(0, dtype=np.uint64)
        self.inverse = np.ones(0, dtype=np.uint64)

    def upto(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if len(self.forward) < n:
            size = max(n, 2 * len(self.forward), 1 << 16)
            self.forward = np.cumprod(np.full(size, _BASE, dtype=np.uint64)) * _BASE_INVERSE
            self.inverse = np.cumprod(np.full(size, _BASE_INVERSE, dtype=np.uint64)) * _BASE
        return self.forward[:n], self.inverse[:n]


_POWERS = _Powers()


def _word_hashes(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(hash of each word, index of its example) for a batch of texts."""
    joined = "\x00".join(t.replace("\x00", " ") if "\x00" in t else t for t in texts).lower()
    data = np.frombuffer(joined.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    if not len(data):
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    is_word = np.concatenate(([False], ~_SEPARATOR[data], [False]))
    edges = np.flatnonzero(is_word[1:] != is_word[:-1])  # alternately a word's start and its end
    starts, ends = edges[0::2], edges[1::2]
    forward, inverse = _POWERS.upto(len(data))
    prefix = np.cumsum(data.astype(np.uint64) * forward)  # wraps modulo 2**64, as intended
    before = np.where(starts > 0, prefix[np.maximum(starts - 1, 0)], np.uint64(0))
    hashes = _mix((prefix[ends - 1] - before) * inverse[starts])
    example = np.searchsorted(np.flatnonzero(data == 0), starts)
    return hashes, example


def _shingles(hashes: np.ndarray, example: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """k-word shingles within each example; an example shorter than k words uses its words."""
    k = SHINGLE_WORDS
    words_per_example = np.bincount(example, minlength=n)
    if len(hashes) >= k:
        same = example[: len(hashes) - k + 1] == example[k - 1 :]
        mixed = hashes[: len(hashes) - k + 1].copy()
        for j in range(1, k):
            mixed = _mix(mixed * _M1 + hashes[j : len(hashes) - k + 1 + j])
        shingles, owners = mixed[same], example[: len(hashes) - k + 1][same]
    else:
        shingles, owners = np.zeros(0, np.uint64), np.zeros(0, np.int64)
    short = words_per_example[example] < k
    if short.any():
        shingles = np.concatenate((shingles, hashes[short]))
        owners = np.concatenate((owners, example[short]))
    return shingles, owners


#: Texts are hashed in groups of about this many characters, which bounds the temporary arrays
#: (about 40 bytes per character) however large the batch.
_GROUP_CHARS = 1 << 16


def _groups(texts: list[str]) -> list[tuple[int, int]]:
    """(start, stop) ranges of ``texts`` of about ``_GROUP_CHARS`` characters each."""
    ranges, start, size = [], 0, 0
    for i, text in enumerate(texts):
        size += len(text) + 1
        if size >= _GROUP_CHARS:
            ranges.append((start, i + 1))
            start, size = i + 1, 0
    if start < len(texts):
        ranges.append((start, len(texts)))
    return ranges


def signatures(texts: list[str], num_perm: int = NUM_PERM) -> np.ndarray:
    """A ``(len(texts), num_perm)`` uint16 MinHash matrix; a text without words gets a row of ``EMPTY``."""
    if num_perm & (num_perm - 1):
        raise ValueError("num_perm must be a power of two")
    n = len(texts)
    signature = np.full(n * num_perm, _EMPTY32, dtype=np.uint32)
    if n == 0:
        return np.zeros((0, num_perm), np.uint16)
    shift = np.uint64(64 - num_perm.bit_length() + 1)
    for start, stop in _groups(texts):
        shingles, owners = _shingles(*_word_hashes(texts[start:stop]), stop - start)
        if len(shingles):
            bins = (shingles >> shift).astype(np.int64)
            values = (shingles & np.uint64(0xFFFFFFFE)).astype(np.uint32)  # never EMPTY
            np.minimum.at(signature, (owners + start) * num_perm + bins, values)
    dense = _densify(signature.reshape(n, num_perm))
    # b-bit MinHash (Li & König 2010): 16 bits of each minimum are kept, halving the memory; two different
    # minima agree by chance once in 65,535, which shifts a similarity estimate by less than 0.0001.
    empty_rows = dense[:, 0] == _EMPTY32
    small = (dense % np.uint32(0xFFFF)).astype(np.uint16)  # 0..0xFFFE: never EMPTY
    small[empty_rows] = EMPTY
    return small


_PROBE_ROUNDS = 8
#: Per round, the bin each bin borrows from when it is empty: the same for every text, so signatures compare.
_SOURCES = {
    p: [(_mix(probe) % np.uint64(p)).astype(np.intp)
        for probe in (np.arange(p, dtype=np.uint64)[None, :] * np.uint64(0x9E3779B97F4A7C15)
                      + np.arange(1, _PROBE_ROUNDS + 1, dtype=np.uint64)[:, None] * np.uint64(0xD6E8FEB86659FD93))]
    for p in (16, 32, 64, 128, 256, 512)
}


def _densify(signature: np.ndarray) -> np.ndarray:
    """Fill empty bins (in place) so that every bin is a fair sample of the set.

    First up to eight rounds of "optimal densification" (Shrivastava 2017): an empty bin copies the bin a
    fixed hash of (bin, round) points to, if that one is filled. Bins still empty after that (very short
    texts) take the next filled bin to their right, offset by the distance (rotation densification).
    Rounds work on whole bins of the texts that have empty ones (a row copy and a masked copy): short texts
    leave most bins empty, where lists of single bins cost several times more.
    """
    p = signature.shape[1]
    empty = signature == _EMPTY32
    todo = np.flatnonzero(empty.any(axis=1) & ~empty.all(axis=1))  # rows without words stay empty
    if not len(todo):
        return signature
    # (bin, text) layout: borrowing a bin is then a copy of a contiguous row of the array
    original = np.ascontiguousarray(signature[todo].T)  # the bins as hashed: rounds never read borrowed ones
    gaps = original == _EMPTY32
    filled = original.copy()
    still = gaps.copy()
    # buffers reused by every round: short texts leave most bins empty, so all eight rounds usually run
    candidate = np.empty_like(original)
    usable = np.empty_like(gaps)
    for source in _SOURCES.get(p, ()):
        np.take(original, source, axis=0, out=candidate)
        np.not_equal(candidate, _EMPTY32, out=usable)
        np.logical_and(usable, still, out=usable)
        np.copyto(filled, candidate, where=usable)
        np.logical_xor(still, usable, out=still)  # usable is a subset of still
        if not still.any():
            break
    bins, texts = np.nonzero(still)
    if len(bins):
        # the nearest bin at or to the right of each still-empty one (circularly) that was hashed into:
        # flat (text, bin) positions of the hashed bins, sorted, searched for each still-empty position
        hashed = np.flatnonzero(~gaps.T)  # text-major, so each text's hashed bins are consecutive
        query = texts * p + bins
        found = np.searchsorted(hashed, query)
        nearest = hashed[np.minimum(found, len(hashed) - 1)]
        first_hashed = hashed[np.searchsorted(hashed, np.arange(filled.shape[1]) * p)]  # each row has one
        first_of_text = first_hashed[texts]
        wraps = (found == len(hashed)) | (nearest // p != texts)
        target = np.where(wraps, first_of_text - texts * p + p, nearest - texts * p)
        distance = (target - bins).astype(np.uint32)
        borrowed = original[target % p, texts]
        filled[bins, texts] = (borrowed + distance * _ROTATION_STEP) & np.uint32(0xFFFFFFFE)
    signature[todo] = filled.T
    return signature
