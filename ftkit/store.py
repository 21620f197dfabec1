"""The job store: a sqlite file (default ``~/.ftkit/jobs.db``, or ``$FTKIT_HOME/jobs.db``).

It records every job before its first side effect, the provider's state for it (remote ids, file
ids), every event seen, the files already uploaded per provider endpoint and content hash, and every
deployment before the provider is asked to create it, so any process can re-attach to a job after a
crash, the same data is never uploaded twice and no paid endpoint is ever unknown to ftkit.

The file survives upgrades: it carries a schema version, an older file is migrated in place inside
one transaction (:mod:`ftkit._store_schema`), one written by a newer ftkit is refused with
:class:`~ftkit.errors.StoreVersionError` rather than misread, and rows are read by column name into
models that ignore fields they do not know, so a newer writer's additions never break this reader.

Rows are the typed records of :mod:`ftkit._store_records` (``JobRecord``, ``DeploymentRecord``, both
importable from here). WAL mode plus ``BEGIN IMMEDIATE`` for every write make two processes writing at
once safe. Secrets are never written here: providers hold them in memory only, and the store refuses
values that look like the secrets it is told about.
"""

from __future__ import annotations

import enum
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from ftkit import _secrets, _store_schema
from ftkit._store_records import DeploymentRecord, JobRecord, new_deployment_id, new_job_id, status_of
from ftkit.errors import DeploymentNotFoundError, FtkitError, JobNotFoundError, StoreError
from ftkit.types import JobEvent, JobState, utcnow

__all__ = [
    "DeploymentRecord",
    "JobRecord",
    "JobStore",
    "default_home",
    "new_deployment_id",
    "new_job_id",
    "process_owner",
    "status_of",
]

log = logging.getLogger("ftkit.store")


def default_home() -> Path:
    """``$FTKIT_HOME`` if set, else ``~/.ftkit``."""
    return Path(os.environ.get("FTKIT_HOME") or Path.home() / ".ftkit").expanduser()


_Record = TypeVar("_Record", JobRecord, DeploymentRecord)
_JOB_JSON = frozenset({"spec", "provider_data", "estimate", "actual", "result"})
_DEPLOYMENT_JSON = frozenset({"settings", "provider_data"})
_UPDATABLE = set(JobRecord.model_fields) - {"id", "created_at"}
_DEPLOYMENT_UPDATABLE = set(DeploymentRecord.model_fields) - {"id", "created_at"}


class JobStore:
    """Durable record of jobs, their events, uploaded files and deployments.

    >>> import tempfile
    >>> folder = tempfile.TemporaryDirectory()
    >>> store = JobStore(Path(folder.name) / "jobs.db")             # JobStore() is $FTKIT_HOME/jobs.db
    >>> [r.id for r in store.list_jobs(limit=5)]
    []
    >>> dep = store.create_deployment(DeploymentRecord(id="dep-1", provider="echo", model_id="echo:ftk-1"))
    >>> store.update_deployment(store.resolve_deployment_id("dep"), state="ready").state
    'ready'
    >>> [d.id for d in store.list_deployments(active_only=True)]
    ['dep-1']
    >>> store.close(); folder.cleanup()
    """

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else default_home() / "jobs.db"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        try:
            _store_schema.prepare(self._connect(), self.path)
        except sqlite3.DatabaseError as e:
            self.close()
            raise StoreError(
                f"{self.path} is not a job store ftkit can open ({e}); nothing was changed. Move it aside, "
                "or set FTKIT_HOME to another directory to start a new store."
            ) from e
        except FtkitError:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"JobStore({str(self.path)!r})"

    # -- connections ----------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None or getattr(self._local, "pid", None) != os.getpid():
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=True)
            db.row_factory = sqlite3.Row
            try:
                _store_schema.refuse_newer(db, self.path)  # before journal_mode, which writes to the file
            except BaseException:
                db.close()
                raise
            _enter_wal(db)
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")
            db.execute("PRAGMA busy_timeout = 30000")
            self._local.db, self._local.pid = db, os.getpid()
        return db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        # BEGIN IMMEDIATE takes the write lock up front, so two processes never interleave a
        # read-modify-write and a writer waits (busy_timeout) instead of failing mid-transaction.
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # -- secrets guard ------------------------------------------------------------------------------

    @staticmethod
    def _check_no_secret(text: str) -> str:
        # A provider bug must not leak a key to disk: fail loudly instead (keys come from _secrets).
        for secret in _secrets.known():
            if secret in text:
                raise ValueError("refusing to write a secret to the job store (a provider put its API key in job data)")
        return text

    # -- jobs -----------------------------------------------------------------------------------------

    def create_job(self, record: JobRecord) -> JobRecord:
        self._insert("jobs", self._to_row_fields(record.model_dump(), _JOB_JSON))
        return record

    def get_job(self, job_id: str) -> JobRecord:
        row = self._connect().execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFoundError(job_id, f"the job store at {self.path}")
        return self._from_row(row, JobRecord, _JOB_JSON)

    def update_job(self, job_id: str, **fields: Any) -> JobRecord:
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise ValueError(f"cannot update job fields {sorted(unknown)}")
        fields["updated_at"] = utcnow()
        row = self._to_row_fields(fields, _JOB_JSON)
        assignments = ", ".join(f"{k} = ?" for k in row)
        with self._write() as db:
            cur = db.execute(f"UPDATE jobs SET {assignments} WHERE id = ?", [*row.values(), job_id])
            if cur.rowcount == 0:
                raise JobNotFoundError(job_id, f"the job store at {self.path}")
        return self.get_job(job_id)

    def claim_submission(self, job_id: str, owner: str, *, stale_after_s: float = 300.0) -> bool:
        """Take the right to (re)submit a job. True when this owner may submit now.

        Refused while another live owner holds it, so two processes attached to one interrupted job
        never both upload and create.
        """
        with self._write() as db:
            row = db.execute("SELECT submit_owner, updated_at, submitted_at FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise JobNotFoundError(job_id, f"the job store at {self.path}")
            if row["submitted_at"] is not None:
                return False
            holder = row["submit_owner"]
            if holder and holder != owner and _owner_alive(holder):
                age = (utcnow() - datetime.fromisoformat(row["updated_at"])).total_seconds()
                if age < stale_after_s:
                    return False
            db.execute(
                "UPDATE jobs SET submit_owner = ?, updated_at = ? WHERE id = ?",
                (owner, utcnow().isoformat(), job_id),
            )
        return True

    def list_jobs(self, *, provider: str | None = None, state: JobState | None = None, limit: int = 50) -> list[JobRecord]:
        sql, args = "SELECT * FROM jobs", []
        where = []
        if provider:
            where.append("provider = ?")
            args.append(provider)
        if state:
            where.append("state = ?")
            args.append(state.value)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
        args.append(limit)
        return self._readable(self._connect().execute(sql, args).fetchall(), JobRecord, _JOB_JSON)

    def find_by_remote_id(self, provider: str, remote_id: str) -> JobRecord | None:
        """The job of ``provider`` whose remote id is ``remote_id`` (the oldest, should there be two), or None."""
        row = self._connect().execute(
            "SELECT * FROM jobs WHERE provider = ? AND remote_id = ? ORDER BY created_at, id LIMIT 1",
            (provider, remote_id),
        ).fetchone()
        return self._from_row(row, JobRecord, _JOB_JSON) if row is not None else None

    def find_by_name(self, name: str) -> list[JobRecord]:
        """Jobs labelled ``name`` (``JobSpec.name``), oldest first."""
        rows = self._connect().execute(
            "SELECT * FROM jobs WHERE name = ? ORDER BY created_at, id", (name,)
        ).fetchall()
        return self._readable(rows, JobRecord, _JOB_JSON)

    def resolve_id(self, prefix: str) -> str:
        """A full job id from a unique prefix (``ftkit jobs show ftk-2026``)."""
        found = self._resolve("jobs", prefix)
        if found is None:
            raise JobNotFoundError(prefix, f"the job store at {self.path}")
        if not found:
            raise JobNotFoundError(prefix, "the job store (the prefix matches several jobs; give more of the id)")
        return found

    # -- deployments -----------------------------------------------------------------------------------

    def create_deployment(self, record: DeploymentRecord) -> DeploymentRecord:
        """Record a deployment; call it before asking the provider to create it."""
        self._insert("deployments", self._to_row_fields(record.model_dump(), _DEPLOYMENT_JSON))
        return record

    def get_deployment(self, deployment_id: str) -> DeploymentRecord:
        row = self._connect().execute("SELECT * FROM deployments WHERE id = ?", (deployment_id,)).fetchone()
        if row is None:
            raise DeploymentNotFoundError(deployment_id, f"the job store at {self.path}")
        return self._from_row(row, DeploymentRecord, _DEPLOYMENT_JSON)

    def update_deployment(self, deployment_id: str, **fields: Any) -> DeploymentRecord:
        unknown = set(fields) - _DEPLOYMENT_UPDATABLE
        if unknown:
            raise ValueError(f"cannot update deployment fields {sorted(unknown)}")
        fields["updated_at"] = utcnow()
        row = self._to_row_fields(fields, _DEPLOYMENT_JSON)
        assignments = ", ".join(f"{k} = ?" for k in row)
        with self._write() as db:
            cur = db.execute(f"UPDATE deployments SET {assignments} WHERE id = ?", [*row.values(), deployment_id])
            if cur.rowcount == 0:
                raise DeploymentNotFoundError(deployment_id, f"the job store at {self.path}")
        return self.get_deployment(deployment_id)

    def list_deployments(
        self, *, provider: str | None = None, active_only: bool = False, limit: int = 100
    ) -> list[DeploymentRecord]:
        """Newest first; ``active_only`` keeps those not yet deleted (the ones that may be billed)."""
        sql, args = "SELECT * FROM deployments", []
        where = []
        if provider:
            where.append("provider = ?")
            args.append(provider)
        if active_only:
            where.append("deleted_at IS NULL AND state != 'deleted'")
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
        args.append(limit)
        return self._readable(self._connect().execute(sql, args).fetchall(), DeploymentRecord, _DEPLOYMENT_JSON)

    def resolve_deployment_id(self, prefix: str) -> str:
        """A full deployment id from a unique prefix (``ftkit deployments delete dep-2026``)."""
        found = self._resolve("deployments", prefix)
        if found is None:
            raise DeploymentNotFoundError(prefix, f"the job store at {self.path}")
        if not found:
            raise DeploymentNotFoundError(
                prefix, "the job store (the prefix matches several deployments; give more of the id)"
            )
        return found

    # -- events --------------------------------------------------------------------------------------

    def add_events(self, job_id: str, events: Sequence[JobEvent], *, cursor: str | None = None) -> list[JobEvent]:
        """Insert events not seen before; return only the new ones, in order. Optionally move the cursor."""
        new: list[JobEvent] = []
        with self._write() as db:
            for event in events:
                body = self._check_no_secret(event.model_dump_json())
                cur = db.execute(
                    "INSERT OR IGNORE INTO events (job_id, event_id, body) VALUES (?, ?, ?)",
                    (job_id, event.id, body),
                )
                if cur.rowcount:
                    new.append(event)
            if cursor is not None:
                db.execute(
                    "UPDATE jobs SET event_cursor = ?, updated_at = ? WHERE id = ?",
                    (cursor, utcnow().isoformat(), job_id),
                )
        return new

    def events_after(self, job_id: str, seq: int = 0) -> list[tuple[int, JobEvent]]:
        rows = self._connect().execute(
            "SELECT seq, body FROM events WHERE job_id = ? AND seq > ? ORDER BY seq", (job_id, seq)
        ).fetchall()
        return [(r["seq"], JobEvent.model_validate_json(r["body"], extra="ignore")) for r in rows]

    # -- uploads -------------------------------------------------------------------------------------

    def find(self, provider: str, endpoint: str, content_hash: str) -> str | None:
        row = self._connect().execute(
            "SELECT file_id FROM uploads WHERE provider = ? AND endpoint = ? AND content_hash = ?",
            (provider, endpoint, content_hash),
        ).fetchone()
        return row["file_id"] if row else None

    def record(self, provider: str, endpoint: str, content_hash: str, file_id: str, filename: str = "") -> None:
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO uploads (provider, endpoint, content_hash, file_id, filename, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (provider, endpoint, content_hash, file_id, filename, utcnow().isoformat()),
            )

    # -- row mapping ---------------------------------------------------------------------------------

    def _insert(self, table: str, row: dict[str, Any]) -> None:
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self._write() as db:
            db.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(row.values()))

    def _resolve(self, table: str, prefix: str) -> str | None:
        # the id itself, or the one id starting with prefix; "" when several match, None when none does
        rows = self._connect().execute(
            f"SELECT id FROM {table} WHERE id = ? OR id LIKE ? ORDER BY id LIMIT 2", (prefix, f"{prefix}%")
        ).fetchall()
        if len(rows) == 1 or (rows and rows[0]["id"] == prefix):
            return str(rows[0]["id"])
        return "" if rows else None

    def _to_row_fields(self, fields: dict[str, Any], json_columns: frozenset[str]) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for key, value in fields.items():
            if key in json_columns and value is not None:
                value = self._check_no_secret(json.dumps(value, default=str, sort_keys=True))
            elif isinstance(value, enum.Enum):
                value = value.value
            elif isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, str):
                value = self._check_no_secret(value)
            row[key] = value
        return row

    def _from_row(self, row: sqlite3.Row, model: type[_Record], json_columns: frozenset[str]) -> _Record:
        # By column name, and lenient: a column or JSON key added by a newer ftkit is ignored here.
        data = {key: value for key, value in dict(row).items() if key in model.model_fields}
        for key in json_columns:
            if data.get(key) is not None:
                data[key] = json.loads(data[key])
        try:
            return model.model_validate(data, extra="ignore")
        except ValidationError as e:
            # e.g. a state this ftkit has no name for: say so, rather than fail with a pydantic traceback
            raise StoreError(
                f"{data.get('id')!r} in the job store {self.path} holds values this ftkit cannot read "
                f"({e.error_count()} problem(s), first: {e.errors()[0]['loc']}: {e.errors()[0]['msg']}); "
                "it was probably written by a newer ftkit: upgrade ftkit (pip install -U ftkit) to use it."
            ) from e

    def _readable(self, rows: list[sqlite3.Row], model: type[_Record], json_columns: frozenset[str]) -> list[_Record]:
        # One record a newer ftkit wrote must not hide all the others from a listing: skip it, loudly.
        records = []
        for row in rows:
            try:
                records.append(self._from_row(row, model, json_columns))
            except StoreError as e:
                log.warning("skipped: %s", e)
        return records


def process_owner() -> str:
    """An owner tag for this process: ``host:pid``."""
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


def _owner_alive(owner: str) -> bool:
    import socket

    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine: trust the staleness timeout instead
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _enter_wal(db: sqlite3.Connection, *, patience_s: float = 30.0) -> None:
    """Switch ``db``'s file to WAL, waiting for other connections doing the same.

    Leaving a rollback journal (a file written by ftkit 0.1, or one copied from elsewhere) needs an
    exclusive lock. When two connections race for it, SQLite answers the loser "database is locked" at
    once instead of calling the busy handler, because both hold a shared lock and waiting could deadlock;
    so the switch is retried here, for as long as a writer would wait (``busy_timeout``).
    """
    deadline = time.monotonic() + patience_s
    delay = 0.005
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.25)
