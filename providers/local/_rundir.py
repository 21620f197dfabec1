"""The run directory of a local job: the only channel between the training process and everyone else.

The worker writes it, and ``status`` / ``events`` / ``wait`` / ``attach`` in any process read it, so the
caller can exit, crash or re-attach from another shell. Layout::

    <run_dir>/
      config.json        spec + resolved settings + data fingerprints, written once at submit
      status.json        state, pid, step, total_steps, error (replaced atomically: tmp + os.replace)
      events.jsonl       append-only; one JSON event per line, id = line number
      cancel.request     present once cancel() was asked for; the worker checks it every step
      worker.log         the worker's stdout and stderr
      checkpoints/       checkpoint-<step>/ dirs; only those holding ftkit-complete.json are trusted
      output/            the final adapter (LoRA, QLoRA) or full model, plus metrics.json

No torch here: this module is imported by ``ftkit jobs status`` and friends.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ftkit._hashing import sha256_file

__all__ = ["CHECKPOINT_MARKER", "RunDir", "write_json_atomic"]

#: written into a checkpoint dir once every file of it is on disk; a dir without it is ignored
CHECKPOINT_MARKER = "ftkit-complete.json"
#: files up to this size are hashed in the marker (larger ones are checked by size only, to keep saves fast)
_HASH_LIMIT_BYTES = 256 * 1024 * 1024
_CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so a reader sees the old file or the new one, never half of one (also after a crash)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, default=str)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RunDir:
    """Typed access to one job's run directory."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.config = self.path / "config.json"
        self.status_file = self.path / "status.json"
        self.events_file = self.path / "events.jsonl"
        self.cancel_file = self.path / "cancel.request"
        self.log_file = self.path / "worker.log"
        self.checkpoints = self.path / "checkpoints"
        self.output = self.path / "output"

    # -- config and status -----------------------------------------------------------------------

    def read_config(self) -> dict[str, Any]:
        return json.loads(self.config.read_text(encoding="utf-8"))

    def write_config(self, config: dict[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.config, config)

    def read_status(self) -> dict[str, Any]:
        try:
            return json.loads(self.status_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}

    def update_status(self, **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` into status.json (one writer at a time: the launcher, then the worker)."""
        status = self.read_status()
        status.update(fields, updated_at=_now())
        write_json_atomic(self.status_file, status)
        return status

    # -- events -------------------------------------------------------------------------------------

    def append_event(self, message: str, *, level: str = "info", type: str | None = None, **fields: Any) -> None:
        """Append one event; its id is its line number, so ids stay unique across resumed runs."""
        event_id = self._count_events() + 1
        event = {"id": str(event_id), "time": _now(), "level": level, "message": message, "type": type}
        event.update({k: v for k, v in fields.items() if v is not None})
        line = json.dumps(event, default=str) + "\n"
        # one write() of one line on an O_APPEND file: a reader never sees a partial line unless we crash
        # mid-write, and read_events skips a truncated last line
        with self.events_file.open("a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
        self._event_count = event_id

    def _count_events(self) -> int:
        if getattr(self, "_event_count", None) is None:
            self._event_count = sum(1 for _ in self._event_lines())
        return self._event_count

    def _event_lines(self) -> Iterator[dict[str, Any]]:
        try:
            with self.events_file.open(encoding="utf-8") as f:
                for line in f:
                    if not line.endswith("\n"):
                        return  # a line still being written (or cut by a crash)
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError:
                        continue
        except FileNotFoundError:
            return

    def read_events(self, after: str | None = None, limit: int = 1000) -> tuple[list[dict[str, Any]], bool]:
        """Events with id > ``after`` (oldest first, at most ``limit``) and whether more are waiting."""
        start = int(after) if after else 0
        page: list[dict[str, Any]] = []
        for event in self._event_lines():
            if int(event["id"]) <= start:
                continue
            if len(page) == limit:
                return page, True
            page.append(event)
        return page, False

    # -- cancellation -------------------------------------------------------------------------------

    def request_cancel(self) -> None:
        self.cancel_file.write_text(_now(), encoding="utf-8")

    @property
    def cancel_requested(self) -> bool:
        return self.cancel_file.exists()

    # -- checkpoints --------------------------------------------------------------------------------

    def mark_checkpoint_complete(self, checkpoint: Path, step: int) -> None:
        """Record every file of a finished checkpoint (fsynced), then the marker that makes it trusted."""
        files: dict[str, dict[str, Any]] = {}
        for file in sorted(p for p in checkpoint.rglob("*") if p.is_file() and p.name != CHECKPOINT_MARKER):
            with file.open("rb") as f:
                os.fsync(f.fileno())
            size = file.stat().st_size
            entry: dict[str, Any] = {"size": size}
            if size <= _HASH_LIMIT_BYTES:
                entry["sha256"] = sha256_file(file)
            files[str(file.relative_to(checkpoint))] = entry
        write_json_atomic(checkpoint / CHECKPOINT_MARKER, {"step": step, "time": _now(), "files": files})

    def checkpoint_problem(self, checkpoint: Path) -> str | None:
        """Why ``checkpoint`` cannot be trusted, or None when every recorded file is intact."""
        marker = checkpoint / CHECKPOINT_MARKER
        if not marker.exists():
            return "incomplete (the process stopped while writing it)"
        try:
            recorded = json.loads(marker.read_text(encoding="utf-8"))["files"]
        except (json.JSONDecodeError, KeyError):
            return "its completion record is unreadable"
        for name, entry in recorded.items():
            file = checkpoint / name
            if not file.exists():
                return f"{name} is missing"
            if file.stat().st_size != entry["size"]:
                return f"{name} is truncated ({file.stat().st_size} of {entry['size']} bytes)"
            if "sha256" in entry and sha256_file(file) != entry["sha256"]:
                return f"{name} is corrupt (checksum mismatch)"
        return None

    def checkpoint_dirs(self) -> list[tuple[int, Path]]:
        """(step, dir) of every checkpoint-N dir, newest first."""
        if not self.checkpoints.exists():
            return []
        found = []
        for d in self.checkpoints.iterdir():
            match = _CHECKPOINT_RE.match(d.name)
            if match and d.is_dir():
                found.append((int(match.group(1)), d))
        return sorted(found, reverse=True)

    def last_good_checkpoint(self, *, discard_bad: bool = False) -> tuple[Path | None, list[str]]:
        """The newest checkpoint that verifies, and notes about the ones skipped (deleted if ``discard_bad``)."""
        notes = []
        for step, d in self.checkpoint_dirs():
            problem = self.checkpoint_problem(d)
            if problem is None:
                return d, notes
            notes.append(f"skipped checkpoint at step {step}: {problem}")
            if discard_bad:
                shutil.rmtree(d, ignore_errors=True)
        return None, notes

    def rotate_checkpoints(self, keep: int, *, protect: str | Path | None = None) -> list[Path]:
        """Delete trusted checkpoints beyond the newest ``keep`` (never ``protect``, the best one), and
        incomplete ones older than the newest trusted; called only after the newest was marked complete."""
        removed: list[Path] = []
        trusted = 0
        newest_trusted: int | None = None
        for step, d in self.checkpoint_dirs():
            complete = (d / CHECKPOINT_MARKER).exists()
            if complete:
                trusted += 1
                newest_trusted = step if newest_trusted is None else newest_trusted
            if protect is not None and Path(protect).resolve() == d.resolve():
                continue
            stale = (complete and trusted > keep) or (not complete and newest_trusted is not None)
            if stale:
                shutil.rmtree(d, ignore_errors=True)
                removed.append(d)
        return removed

    def last_checkpoint_step(self) -> int | None:
        """Step of the newest checkpoint with a completion marker (cheap: no hashing)."""
        for step, d in self.checkpoint_dirs():
            if (d / CHECKPOINT_MARKER).exists():
                return step
        return None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def wait_for(predicate: Any, timeout: float, interval: float = 0.1) -> bool:
    """Poll ``predicate()`` until it is true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
