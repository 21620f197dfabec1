"""On-disk prediction cache: a re-run, a report or a resumed evaluation never pays for a prediction twice.

One sqlite file under ``$FTKIT_HOME/cache/predictions``. The key is the sha256 of the model's
identity, the exact prompt messages and the decoding settings that change the output, so a
different model, prompt or temperature can never be served a stale answer. Predictions are written
as each chunk completes, which is what makes an interrupted evaluation resume where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ftkit.store import default_home
from ftkit.types import Generation, GenerationSettings

__all__ = ["PredictionCache", "cache_dir", "model_identity", "prediction_key"]


def cache_dir() -> Path:
    return default_home() / "cache" / "predictions"


def _files_fingerprint(directory: Path) -> list[tuple[str, int, int]]:
    # name, size and mtime of weight files: cheap for multi-GB models, and changes whenever they are rewritten
    suffixes = (".safetensors", ".bin", ".pt", ".gguf")
    return sorted(
        (p.name, p.stat().st_size, p.stat().st_mtime_ns)
        for p in directory.glob("*")
        if p.is_file() and p.name.endswith(suffixes)
    )


def model_identity(model: Any) -> dict[str, Any]:
    """What makes a model's answers differ: provider, name, endpoint and (local) weight files."""
    identity: dict[str, Any] = {"provider": model.provider, "model_id": model.model_id}
    base_url = getattr(getattr(model, "_provider", None), "base_url", None)
    if base_url:
        identity["base_url"] = base_url
    for attr in ("adapter_path", "merged_path"):
        if getattr(model, attr, None):
            identity[attr] = str(getattr(model, attr))
    for key in ("model_id", "adapter_path", "merged_path"):
        path = identity.get(key)
        if path and Path(path).is_dir():  # weights on disk: a retrained folder must not reuse old answers
            identity[f"{key}_files"] = _files_fingerprint(Path(path))
    return identity


def prediction_key(identity: dict[str, Any], prompt: Sequence[dict[str, Any]], settings: GenerationSettings) -> str:
    payload = json.dumps(
        {"model": identity, "prompt": list(prompt), "settings": settings.cache_key()},
        sort_keys=True, ensure_ascii=False, default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class PredictionCache:
    """Key -> :class:`Generation`, in sqlite (WAL), safe to share between threads and processes.

    >>> cache = PredictionCache(tmp_path / "p.sqlite")              # doctest: +SKIP
    >>> cache.put_many({"k": Generation(text="billing")}, model="local:tiny")  # doctest: +SKIP
    >>> cache.get_many(["k"])["k"].text                              # doctest: +SKIP
    'billing'
    """

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else cache_dir() / "predictions.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS predictions ("
            " key TEXT PRIMARY KEY, model TEXT NOT NULL, generation TEXT NOT NULL,"
            " created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
        )
        self._db.commit()

    def get_many(self, keys: Iterable[str]) -> dict[str, Generation]:
        keys = list(keys)
        found: dict[str, Generation] = {}
        with self._lock:
            for start in range(0, len(keys), 500):  # sqlite's bound-parameter limit
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(f"SELECT key, generation FROM predictions WHERE key IN ({marks})", chunk)
                found.update({key: Generation.model_validate_json(text, extra="ignore") for key, text in rows})
        return found

    def put_many(self, generations: dict[str, Generation], *, model: str) -> None:
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO predictions (key, model, generation) VALUES (?, ?, ?)",
                [(key, model, g.model_dump_json()) for key, g in generations.items()],
            )
            self._db.commit()

    def count(self, model: str | None = None) -> int:
        with self._lock:
            if model is None:
                return self._db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
            return self._db.execute("SELECT COUNT(*) FROM predictions WHERE model = ?", (model,)).fetchone()[0]

    def clear(self, model: str | None = None) -> int:
        """Forget predictions (of one model label, or all); returns how many were removed."""
        with self._lock:
            if model is None:
                cursor = self._db.execute("DELETE FROM predictions")
            else:
                cursor = self._db.execute("DELETE FROM predictions WHERE model = ?", (model,))
            self._db.commit()
            return cursor.rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> PredictionCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
