"""Where data comes from: a JSONL path, a list of dicts, a ``datasets.Dataset`` or a pandas DataFrame.

Everything downstream (providers, the validator, conversion) works on JSONL files, so in-memory data is
written once, content-addressed, and the path handed on::

    >>> from pathlib import Path
    >>> path = materialize([{"text": "hello"}], Path("/tmp/ftkit-data"))
    >>> path.name.endswith(".jsonl")
    True
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ftkit.errors import ConfigError

__all__ = ["as_path", "in_memory_records", "iter_records", "materialize", "refuse_to_replace"]


def as_path(source: Any) -> Path | None:
    """The source as a ``Path`` when it names a file, else ``None`` (in-memory data)."""
    if isinstance(source, (str, os.PathLike)):
        return Path(source)
    return None


def in_memory_records(source: Any) -> Iterable[Any]:
    """The rows of an in-memory source (list, ``datasets.Dataset``, DataFrame), without copying the list.

    Duck-typed on purpose so that neither pandas nor datasets is ever imported by ftkit itself.
    """
    if isinstance(source, (list, tuple)):
        return source
    if hasattr(source, "to_dict") and hasattr(source, "columns"):  # pandas.DataFrame
        return source.to_dict(orient="records")
    if hasattr(source, "to_list"):  # datasets.Dataset
        return source.to_list()
    if isinstance(source, Iterable) and not isinstance(source, (str, bytes, dict)):
        return source
    raise ConfigError(
        f"Cannot read a dataset from a {type(source).__name__}: pass a path to a JSONL file, a list of dicts, "
        "a datasets.Dataset or a pandas DataFrame."
    )


def _jsonl_bytes(records: Iterable[Any]) -> bytes:
    lines = [json.dumps(_plain(r), ensure_ascii=False, separators=(",", ":")) for r in records]
    return ("\n".join(lines) + "\n").encode("utf-8") if lines else b""


def _plain(value: Any) -> Any:
    """numpy scalars and arrays (from pandas / datasets rows) as plain JSON values."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return _plain(value.tolist())
    if value != value:  # NaN from pandas for a missing cell
        return None
    return value


def materialize(source: Any, directory: Path) -> Path:
    """Return a JSONL path holding ``source``.

    A path is checked and returned resolved. In-memory data is written to
    ``directory/<sha256 prefix>.jsonl`` (the same rows always give the same file, written atomically),
    so uploads can be deduplicated by content.
    """
    path = as_path(source)
    if path is not None:
        path = path.expanduser()
        if not path.is_file():
            what = "a directory, not a file" if path.is_dir() else "missing"
            raise ConfigError(f"Dataset file {path} is {what}. Pass the path of a JSONL file.")
        return path.resolve()
    data = _jsonl_bytes(in_memory_records(source))
    digest = hashlib.sha256(data).hexdigest()[:16]
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{digest}.jsonl"
    if not target.exists():
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{digest}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return target.resolve()


def iter_records(source: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, example)`` for every example, 1-based; blank lines of a file are skipped.

    A simple reader for consumers that need the rows of valid data (conversion, evaluation). It raises
    ``ConfigError`` on a line that is not a JSON object; run ``validate`` first for a full report.
    """
    path = as_path(source)
    if path is None:
        for number, record in enumerate(in_memory_records(source), start=1):
            if not isinstance(record, dict):
                raise ConfigError(f"Row {number} is a {type(record).__name__}, not a dict of fields.")
            yield number, record
        return
    if not path.is_file():
        raise ConfigError(f"Dataset file {path} is missing. Pass the path of a JSONL file.")
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except ValueError as e:  # UnicodeDecodeError is a ValueError too
                raise ConfigError(f"{path}:{number}: not valid JSON ({e}). Run `ftkit validate {path}`.") from None
            if not isinstance(record, dict):
                raise ConfigError(f"{path}:{number}: expected a JSON object, got {type(record).__name__}.")
            yield number, record


def refuse_to_replace(outputs: Iterable[Path], *, overwrite: bool, what: str) -> None:
    """Raise ``ConfigError`` before any work when an output file already exists, unless ``overwrite``.

    The writers (convert, dedup, split) replace their targets atomically, which would silently discard a
    file the user already had there, such as an earlier split or the input itself."""
    existing = [str(p) for p in outputs if p.exists()]
    if existing and not overwrite:
        raise ConfigError(
            f"{what} would replace {', '.join(existing)}, which already exist{'s' if len(existing) == 1 else ''}; "
            "nothing was written. Choose another output path, or pass overwrite=True (--force) to replace it."
        )
