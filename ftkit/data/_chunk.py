"""One chunk of a JSONL file, checked end to end in one process: decode, parse, check, count, hash.

The validator hands chunks of whole lines to worker processes. Each line is parsed once (by orjson; again by
``json`` only when orjson refuses it or could misread it, ``_fast.py``) and each distinct text tokenized once.
Plain chat lines, the common case, are recognised in one pass and never build the full checker's facts;
the columns of usable examples are filled line by line. What comes back is small: the issues, a few numbers
per example, the example's MinHash signature and its LSH band keys (numpy arrays, cheap to pickle).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ftkit.data._fast import _MISSING, exact, fast_loads, plain_chat
from ftkit.data.checks import ExampleFacts, check_example
from ftkit.data.codes import RawIssue
from ftkit.data.lsh import band_keys
from ftkit.data.minhash import NUM_PERM, signatures

__all__ = ["Chunk", "ChunkResult", "ChunkSettings", "process_chunk"]

#: Lines longer than this are reported, not parsed (a provider would refuse them anyway).
MAX_LINE_BYTES = 32 * 1024 * 1024
FORMAT_IDS = {
    name: i
    for i, name in enumerate(
        ("unknown", "chat", "instruction", "prompt_completion", "text", "classification", "preference",
         "openai_preference")
    )
}


@dataclass(frozen=True)
class ChunkSettings:
    """What every chunk needs to know; built once per run, sent to each worker with the chunk."""

    provider: str | None = None
    model: str | None = None
    tokenizer_dir: str | None = None
    count_tokens: bool = True
    special_tokens: tuple[str, ...] = ()
    num_perm: int = NUM_PERM
    threshold: float = 0.9  # near-duplicate threshold: each block computes its rows' LSH keys for it
    counter_id: int | None = None  # a counter object the caller passed (in-process runs only)


@dataclass
class Chunk:
    data: bytes  # whole lines, each ending with b"\n" (the last one may lack it at the end of the file)
    first_line: int
    offset: int  # byte offset of ``data`` in the file
    oversized: tuple[tuple[int, int, int], ...] = ()  # (line, offset, length) of lines too long to read


@dataclass(kw_only=True)
class ExampleColumns:
    """Per-example arrays: the format of every parsed line, and a few numbers per usable example."""

    #: the array fields, concatenated block after block by the scanner
    ARRAYS: ClassVar[tuple[str, ...]] = (
        "format_lines", "format_ids", "lines", "tokens", "trained", "messages", "has_system", "is_classification",
        "hashes",
    )

    format_lines: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    format_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    # one entry per usable example (no structural errors)
    lines: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    tokens: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    trained: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    messages: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))
    has_system: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    is_classification: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    issues: list[RawIssue] = field(default_factory=list)
    examples: int = 0  # non-blank lines
    labels: Counter[str] = field(default_factory=Counter)
    label_lines: dict[str, int] = field(default_factory=dict)  # first line of each label spelling
    counter: tuple[str, bool, float | None] | None = None  # the token counter's name, exactness, error


@dataclass(kw_only=True)
class ChunkResult(ExampleColumns):
    signatures: np.ndarray = field(default_factory=lambda: np.zeros((0, NUM_PERM), np.uint16))
    band_keys: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.uint64))


_COUNTERS: dict[tuple[Any, ...], Any] = {}


def counter_for(settings: ChunkSettings) -> Any:
    """The token counter of this process (built once per process and settings)."""
    key = (settings.provider, settings.model, settings.tokenizer_dir, settings.counter_id)
    if key not in _COUNTERS:
        if settings.tokenizer_dir:
            from ftkit.estimation.chat_template import ChatTemplateCounter

            counter = ChatTemplateCounter(settings.tokenizer_dir)
        else:
            from ftkit.errors import FtkitError
            from ftkit.estimation.tokens import ApproximateCounter, token_counter

            try:
                counter = token_counter(settings.provider, settings.model)
            except FtkitError as e:  # e.g. a provider that is not installed: its rules are skipped too
                counter = ApproximateCounter(settings.model, f"no token counter for {settings.provider!r}: {e}")
        _COUNTERS[key] = counter
    return _COUNTERS[key]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON (providers reject NaN and Infinity)")


def _parse(raw: bytes, line: int, offset: int, issues: list[RawIssue]) -> tuple[bool, Any]:
    """(ok, value) of one line; decoding and parsing problems go to ``issues``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        issues.append(RawIssue("invalid_utf8", line, None, f"invalid UTF-8 at byte offset {offset + e.start} "
                                                           f"(column {e.start + 1}): {e.reason}"))
        return False, None
    try:
        return True, json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        issues.append(RawIssue("invalid_json", line, None, f"column {e.colno}: {e.msg}"))
    except RecursionError:
        issues.append(RawIssue("too_deep", line, None, "the JSON value nests too deeply to parse"))
    except ValueError as e:
        issues.append(RawIssue("invalid_json", line, None, str(e)))
    return False, None


def _check(value: Any, line: int, issues: list[RawIssue]) -> ExampleFacts | None:
    try:
        return check_example(value, line)
    except RecursionError:
        issues.append(RawIssue("too_deep", line, None, "the example nests too deeply to check"))
        return None


def _count(counter: Any, canonicals: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """Token counts of a batch; an example the counter cannot handle counts as (0, 0), never raises."""
    try:
        return list(counter.count_batch(canonicals))
    except Exception:
        counts = []
        for example in canonicals:
            try:
                counts.append(counter.count(example))
            except Exception:
                counts.append((0, 0))
        return counts


@contextlib.contextmanager
def caller_counter(settings: ChunkSettings, counter: Any) -> Iterator[ChunkSettings]:
    """Settings that count with ``counter`` (a TokenCounter object) in this process, while the block runs."""
    settings = dataclasses.replace(settings, counter_id=id(counter))
    key = (settings.provider, settings.model, settings.tokenizer_dir, settings.counter_id)
    _COUNTERS[key] = counter
    try:
        yield settings
    finally:
        _COUNTERS.pop(key, None)


def count_examples(examples: list[dict[str, Any]], settings: ChunkSettings) -> list[tuple[int, int]]:
    """Token counts of canonical examples with this process's counter."""
    return _count(counter_for(settings), examples)


class _Usable:
    """Columns of the usable examples of a chunk, filled line by line (no object per example)."""

    def __init__(self) -> None:
        self.lines: list[int] = []
        self.texts: list[str] = []
        self.messages: list[int] = []
        self.has_system: list[bool] = []
        self.is_classification: list[bool] = []
        self.canonicals: list[dict[str, Any]] = []
        self.labels: list[tuple[str, int]] = []  # (label, line)
        self.contents: dict[int, list[str]] = {}  # row -> plain-text fields, for examples the full checks saw

    def add_facts(self, facts: ExampleFacts) -> None:
        self.contents[len(self.lines)] = facts.contents
        self._add(facts.line, facts.text, facts.messages, facts.has_system, facts.format == "classification",
                  facts.canonical)  # type: ignore[arg-type]
        if facts.label is not None:
            self.labels.append((facts.label, facts.line))

    def _add(self, line: int, text: str, messages: int, has_system: bool, classification: bool,
             canonical: dict[str, Any]) -> None:
        self.lines.append(line)
        self.texts.append(text)
        self.messages.append(messages)
        self.has_system.append(has_system)
        self.is_classification.append(classification)
        self.canonicals.append(canonical)

    def contents_of(self, row: int) -> list[str]:
        found = self.contents.get(row)
        if found is None:  # a plain chat example: its contents are its messages' contents
            return [m["content"] for m in self.canonicals[row]["messages"]]
        return found


_CHAT = FORMAT_IDS["chat"]


def process_chunk(chunk: Chunk, settings: ChunkSettings) -> ChunkResult:
    """Check every line of ``chunk``; never raises on bad data."""
    result = ChunkResult()
    issues = result.issues
    for line, offset, length in chunk.oversized:
        issues.append(RawIssue("line_too_long", line, None, f"the line is {length:,} bytes (limit "
                                                            f"{MAX_LINE_BYTES:,}), at byte offset {offset}"))
    format_lines: list[int] = []
    format_ids: list[int] = []
    usable = _Usable()
    # bound methods: the plain-chat branch runs for nearly every line, and attribute lookups add up
    add_format_line, add_format_id = format_lines.append, format_ids.append
    add_line, add_text, add_messages = usable.lines.append, usable.texts.append, usable.messages.append
    add_system, add_classification = usable.has_system.append, usable.is_classification.append
    add_canonical = usable.canonicals.append
    examples = 0
    offset = chunk.offset
    raw_lines = chunk.data.split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()
    line = chunk.first_line - 1
    for raw in raw_lines:
        line += 1
        start = offset
        offset += len(raw) + 1
        if line == 1 and raw.startswith(b"\xef\xbb\xbf"):
            issues.append(RawIssue("bom", 1, None, "the file starts with a UTF-8 byte-order mark"))
            raw = raw[3:]
            start += 3
        if not raw or raw.isspace():  # ASCII whitespace only: what bytes.strip() removes, without a copy
            issues.append(RawIssue("blank_line", line, None, "the line is empty"))
            continue
        examples += 1
        if len(raw) > MAX_LINE_BYTES:
            issues.append(RawIssue("line_too_long", line, None, f"the line is {len(raw):,} bytes"))
            continue
        value = fast_loads(raw)
        if value is not _MISSING:
            plain = plain_chat(value)
            if plain is not None:
                add_format_line(line)
                add_format_id(_CHAT)
                add_line(line)
                add_text(plain[0])
                add_messages(len(value["messages"]))
                add_system(plain[1])
                add_classification(False)
                add_canonical(value)
                continue
        if value is _MISSING or not exact(raw):
            ok, value = _parse(raw, line, start, issues)
            if not ok:
                continue
        facts = _check(value, line, issues)
        if facts is None:
            continue
        issues.extend(facts.issues)
        add_format_line(line)
        add_format_id(FORMAT_IDS.get(facts.format, 0))
        if facts.canonical is not None:
            usable.add_facts(facts)
    result.examples = examples
    result.format_lines = np.asarray(format_lines, np.int32)
    result.format_ids = np.asarray(format_ids, np.int8)
    _summarise(result, usable, settings)
    return result


def _summarise(result: ChunkResult, usable: _Usable, settings: ChunkSettings) -> None:
    """Per-example arrays, token counts, hashes and signatures of the usable examples."""
    n = len(usable.lines)
    result.lines = np.asarray(usable.lines, np.int32)
    result.messages = np.asarray(usable.messages, np.int16)
    result.has_system = np.asarray(usable.has_system, bool).reshape(n)
    result.is_classification = np.asarray(usable.is_classification, bool).reshape(n)
    texts = usable.texts
    blake2b = hashlib.blake2b
    result.hashes = np.fromiter(
        (int.from_bytes(blake2b(t.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")
         for t in texts),
        np.uint64,
        n,
    )
    result.signatures = signatures(texts, settings.num_perm)
    result.band_keys = band_keys(result.signatures, settings.threshold)
    if settings.count_tokens and n:
        counter = counter_for(settings)
        result.counter = (counter.name, bool(counter.exact), getattr(counter, "expected_error", None))
        counts = np.asarray(_count(counter, usable.canonicals), np.int32).reshape(n, 2)
        result.tokens = np.ascontiguousarray(counts[:, 0])
        result.trained = np.ascontiguousarray(counts[:, 1])
    else:
        result.tokens = np.zeros(n, np.int32)
        result.trained = np.zeros(n, np.int32)
    for label, line in usable.labels:
        result.labels[label] += 1
        result.label_lines.setdefault(label, line)
    if settings.special_tokens:
        pattern = re.compile("|".join(re.escape(t) for t in sorted(settings.special_tokens, key=len, reverse=True)))
        if not pattern.search("\x00".join(texts)):  # one scan of the chunk; no special token holds a NUL
            return
        for row, text in enumerate(texts):
            if pattern.search(text):
                found = sorted({m.group(0) for c in usable.contents_of(row) for m in pattern.finditer(c)})
                if found:
                    result.issues.append(RawIssue(
                        "special_token_in_content", usable.lines[row], None,
                        f"the text contains the tokenizer's special token(s) {', '.join(found)}",
                    ))
