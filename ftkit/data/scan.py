"""Streaming a JSONL file through the chunk checker, on every core, in bounded memory.

The main process reads blocks of whole lines, checks some itself and hands the others to helper
processes; parsing, checking, token counting and MinHash of a block happen in one process. At most two
blocks wait per helper, so memory does not grow with the file: what is kept per example is a line number,
a few counts, an 8-byte content hash and a 256-byte signature.
"""

from __future__ import annotations

import collections
import logging
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ftkit.data._chunk import (
    MAX_LINE_BYTES,
    Chunk,
    ChunkResult,
    ChunkSettings,
    ExampleColumns,
    count_examples,
    process_chunk,
)
from ftkit.data.codes import RawIssue
from ftkit.data.lsh import SignatureStore

__all__ = ["FileScan", "Scanner"]

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1024 * 1024
#: Below this many bytes in total, starting a helper (about 1 s: imports and the tokenizer) costs more than
#: it saves.
PARALLEL_MIN_BYTES = 32 * 1024 * 1024

Progress = Callable[[int], None]


@dataclass(kw_only=True)
class FileScan(ExampleColumns):
    """Everything the validator keeps about one file after streaming it."""

    path: Path
    role: str  # "train", "validation" or "test"
    size: int = 0
    signatures: SignatureStore = field(default_factory=lambda: SignatureStore([]))
    band_keys: list[np.ndarray] = field(default_factory=list)  # LSH keys of the rows, block by block


def read_chunks(path: Path, chunk_bytes: int = CHUNK_BYTES) -> Iterator[Chunk]:
    """Blocks of whole lines with their first line number and byte offset.

    A line longer than ``MAX_LINE_BYTES`` is skipped without being held in memory and reported by length.
    """
    line, offset, pending = 1, 0, b""
    with path.open("rb") as f:
        while True:
            block = f.read(chunk_bytes)
            if not block:
                if pending:
                    yield Chunk(pending, line, offset)
                return
            buffer = pending + block if pending else block
            cut = buffer.rfind(b"\n")
            if cut < 0:
                if len(buffer) <= MAX_LINE_BYTES:
                    pending = buffer
                    continue
                length, pending = _skip_line(f, len(buffer), chunk_bytes)
                yield Chunk(b"", line, offset, oversized=((line, offset, length),))
                line += 1
                offset += length + 1
                continue
            yield Chunk(buffer[: cut + 1], line, offset)
            line += buffer.count(b"\n", 0, cut + 1)
            offset += cut + 1
            pending = buffer[cut + 1 :]


def _skip_line(f, seen: int, chunk_bytes: int) -> tuple[int, bytes]:  # type: ignore[no-untyped-def]
    """Read past the rest of an oversized line; returns its length and the bytes after its newline."""
    length = seen
    while True:
        block = f.read(chunk_bytes)
        if not block:
            return length, b""
        cut = block.find(b"\n")
        if cut >= 0:
            return length + cut, block[cut + 1 :]
        length += len(block)


def _safe_process(chunk: Chunk, settings: ChunkSettings) -> ChunkResult:
    """``process_chunk`` that turns an unexpected failure into an issue instead of ending the run."""
    try:
        return process_chunk(chunk, settings)
    except Exception as e:  # a bug in a check must not cost the user the whole report
        result = ChunkResult()
        result.issues.append(RawIssue("internal_error", chunk.first_line, None,
                                      f"ftkit could not check the lines from here on in this block: {e!r}"))
        return result


class _SignatureFile:
    """Signatures written to a file as blocks arrive, and memory-mapped once the file is read.

    They are the largest thing kept per example (256 bytes); on disk they cost no memory while the
    helpers (each with its own tokenizer) are running, and the duplicate search reads them after.
    """

    def __init__(self, path: Path, num_perm: int):
        self.path, self.num_perm, self.rows = path, num_perm, 0
        self._file = path.open("wb")

    def write(self, block: np.ndarray) -> None:
        if len(block):
            self._file.write(np.ascontiguousarray(block, np.uint16).tobytes())
            self.rows += len(block)

    def store(self) -> SignatureStore:
        self._file.close()
        if not self.rows:
            return SignatureStore([], self.num_perm)
        return SignatureStore(np.memmap(self.path, np.uint16, "r", shape=(self.rows, self.num_perm)))


class Scanner:
    """Streams files through ``workers`` processes: this one and ``workers - 1`` spawned helpers.

    The main process reads the file, hands blocks to the helpers while they have fewer than two waiting,
    and checks a block itself otherwise, so every core works and there is one tokenizer fewer in memory
    than with a helper per core. Results are consumed in file order.
    """

    def __init__(self, settings: ChunkSettings, *, workers: int | None, total_bytes: int,
                 spill_dir: Path | None = None):
        self.settings = settings
        self.spill_dir = spill_dir  # signatures go to a file here while streaming (see ``_SignatureFile``)
        cores = os.cpu_count() or 1
        if workers is None:
            workers = cores if total_bytes >= PARALLEL_MIN_BYTES else 1
        self.workers = max(1, workers)
        self._executor: Executor | None = None
        self.blocks_here = self.blocks_in_helpers = 0  # how the work was shared (for benchmarks)

    def __enter__(self) -> Scanner:
        if self.workers > 1:
            import multiprocessing

            # spawn: forking a process that may hold threads (progress bars, tokenizers) can deadlock.
            self._executor = ProcessPoolExecutor(self.workers - 1, mp_context=multiprocessing.get_context("spawn"))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._executor is not None:
            # every result is in; the helpers exit on their own while the whole-file checks run
            self._executor.shutdown(wait=False, cancel_futures=True)

    def _results(self, path: Path) -> Iterator[tuple[int, ChunkResult]]:
        """(byte offset reached, result) per block, in file order."""
        pending: collections.deque[tuple[Chunk, Future[ChunkResult] | ChunkResult]] = collections.deque()
        for chunk in read_chunks(path):
            if self._executor is not None and self._helpers_waiting(pending) < 2 * (self.workers - 1):
                pending.append((chunk, self._executor.submit(_safe_process, chunk, self.settings)))
                self.blocks_in_helpers += 1
            else:
                pending.append((chunk, _safe_process(chunk, self.settings)))
                self.blocks_here += 1
            while pending and (not isinstance(pending[0][1], Future) or pending[0][1].done()):
                yield self._resolved(*pending.popleft())
        while pending:
            yield self._resolved(*pending.popleft())

    @staticmethod
    def _helpers_waiting(pending: collections.deque) -> int:  # type: ignore[type-arg]
        return sum(1 for _, r in pending if isinstance(r, Future) and not r.running() and not r.done())

    def _resolved(self, chunk: Chunk, result: Future[ChunkResult] | ChunkResult) -> tuple[int, ChunkResult]:
        end = chunk.offset + len(chunk.data)
        if not isinstance(result, Future):
            return end, result
        try:
            return end, result.result()
        except Exception as e:  # the helpers could not start or died: finish the work in this process
            if self._executor is not None:
                logger.warning("ftkit validate: helper processes failed (%r); continuing in one process", e)
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = None
            return end, _safe_process(chunk, self.settings)

    def scan(self, path: Path, role: str, progress: Progress | None = None) -> FileScan:
        scan = FileScan(path=path, role=role, size=path.stat().st_size)
        parts: dict[str, list[np.ndarray]] = collections.defaultdict(list)
        spill = None if self.spill_dir is None else _SignatureFile(self.spill_dir / f"{role}.signatures",
                                                                    self.settings.num_perm)
        for reached, result in self._results(path):
            scan.examples += result.examples
            scan.issues.extend(result.issues)
            for name in ExampleColumns.ARRAYS:
                parts[name].append(getattr(result, name))
            if spill is not None:
                spill.write(result.signatures)
            else:
                parts["signatures"].append(result.signatures)
            if len(result.band_keys):
                scan.band_keys.append(result.band_keys)
            scan.counter = scan.counter or result.counter
            scan.labels.update(result.labels)
            for label, line in result.label_lines.items():
                scan.label_lines.setdefault(label, line)
            if progress is not None:
                progress(reached)
        signatures = parts.pop("signatures", [])
        for name, arrays in parts.items():
            setattr(scan, name, np.concatenate(arrays) if arrays else getattr(scan, name))
        if spill is not None:
            scan.signatures = spill.store()
        else:
            scan.signatures = SignatureStore(signatures, self.settings.num_perm)  # kept in blocks: no copy
        return scan

    def count(self, examples: list[dict]) -> list[tuple[int, int]]:  # type: ignore[type-arg]
        """Token counts of a few canonical examples, in a worker when there are workers (its tokenizer is
        loaded there already; loading it here too would cost the main process its memory)."""
        if self._executor is None:
            return count_examples(examples, self.settings)
        return self._executor.submit(count_examples, examples, self.settings).result()
