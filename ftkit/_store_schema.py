"""The job store's tables, and the steps that bring a file written by an older ftkit up to date.

A store file carries its schema version in ``PRAGMA user_version``. Opening a file:

* at the current version does nothing;
* at an older version runs every step after it, in order, inside one ``BEGIN IMMEDIATE`` transaction,
  so a crash or a second process opening the file at the same moment never sees half a migration;
* at a newer version is refused with :class:`~ftkit.errors.StoreVersionError` (naming the ftkit that
  wrote it), unless every step past ours was additive (see :attr:`Migration.oldest_reader`): then this
  ftkit uses the file as it is, reading rows by column name and ignoring what it does not know.

Rules for a new step: append a :class:`Migration` with the next version, never edit a released one,
and make its statements safe to run twice (``IF NOT EXISTS``): ftkit 0.1 rewrote ``user_version = 1``
on every open, so a file that ftkit 0.1 opened after a newer one comes back one version "older" and is
migrated again. A step that adds a ``NOT NULL`` column without a default, renames or drops anything,
or changes what a column means is not additive: give it ``oldest_reader`` equal to its own version.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from ftkit.errors import StoreError, StoreVersionError

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Migration", "prepare", "refuse_newer"]

# Version 1: the layout ftkit 0.1 created (tests/core/fixtures/store_v1.db is such a file).
_V1 = (
    """CREATE TABLE IF NOT EXISTS jobs (
        id              TEXT PRIMARY KEY,
        provider        TEXT NOT NULL,
        name            TEXT,
        state           TEXT NOT NULL,
        raw_status      TEXT NOT NULL,
        remote_id       TEXT,
        spec            TEXT NOT NULL,
        provider_data   TEXT NOT NULL DEFAULT '{}',
        error           TEXT,
        step            INTEGER,
        total_steps     INTEGER,
        trained_tokens  INTEGER,
        model_id        TEXT,
        event_cursor    TEXT,
        estimate        TEXT,
        actual          TEXT,
        result          TEXT,
        submit_owner    TEXT,
        submitted_at    TEXT,
        created_at      TEXT NOT NULL,
        updated_at      TEXT NOT NULL,
        finished_at     TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS jobs_by_created ON jobs (created_at)",
    """CREATE TABLE IF NOT EXISTS events (
        seq       INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id    TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        event_id  TEXT NOT NULL,
        body      TEXT NOT NULL,
        UNIQUE (job_id, event_id)
    )""",
    """CREATE TABLE IF NOT EXISTS uploads (
        provider      TEXT NOT NULL,
        endpoint      TEXT NOT NULL,
        content_hash  TEXT NOT NULL,
        file_id       TEXT NOT NULL,
        filename      TEXT,
        created_at    TEXT NOT NULL,
        PRIMARY KEY (provider, endpoint, content_hash)
    )""",
)


@dataclass(frozen=True)
class Migration:
    """One step: the statements that turn a file of ``version - 1`` into ``version``."""

    version: int
    statements: tuple[str, ...]
    #: the oldest schema version whose code can still read and write the file after this step
    #: (1 for additive steps: new tables, nullable columns, new indexes)
    oldest_reader: int
    why: str = ""


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=2,
        why="deployments: a paid endpoint is recorded before it exists, so a crash never leaves one unknown",
        oldest_reader=1,
        statements=(
            """CREATE TABLE IF NOT EXISTS deployments (
                id              TEXT PRIMARY KEY,
                provider        TEXT NOT NULL,
                model_id        TEXT NOT NULL,
                job_id          TEXT,
                remote_id       TEXT,
                state           TEXT NOT NULL,
                serving_id      TEXT,
                price_per_hour  REAL,
                settings        TEXT NOT NULL DEFAULT '{}',
                provider_data   TEXT NOT NULL DEFAULT '{}',
                created_by      TEXT NOT NULL DEFAULT 'user',
                error           TEXT,
                created_at      TEXT NOT NULL,
                updated_at      TEXT NOT NULL,
                deleted_at      TEXT
            )""",
            "CREATE INDEX IF NOT EXISTS deployments_by_created ON deployments (created_at)",
            # Facts about the file itself: which ftkit last migrated it and which readers it still suits.
            "CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        ),
    ),
    Migration(
        version=3,
        why="imported jobs are found by the service's own id, so importing a job twice gives the same ftkit job",
        oldest_reader=1,
        statements=("CREATE INDEX IF NOT EXISTS jobs_by_remote ON jobs (provider, remote_id)",),
    ),
)

SCHEMA_VERSION = MIGRATIONS[-1].version if MIGRATIONS else 1


def refuse_newer(db: sqlite3.Connection, path: Path) -> None:
    """Raise :class:`StoreVersionError` for a file this ftkit cannot use. Reads only: call it before any
    pragma that writes (``journal_mode``), so a refused file is left byte for byte as it was."""
    found = _user_version(db)
    if found > SCHEMA_VERSION:
        _accept_newer(db, found, path)


def prepare(db: sqlite3.Connection, path: Path) -> None:
    """Bring the file behind ``db`` (autocommit connection) to :data:`SCHEMA_VERSION`, or refuse it."""
    if _user_version(db) >= SCHEMA_VERSION:
        refuse_newer(db, path)
        return
    db.execute("BEGIN IMMEDIATE")  # read the version again under the write lock: another process may be here
    try:
        found = _user_version(db)
        if found > SCHEMA_VERSION:
            _accept_newer(db, found, path)
        elif found < SCHEMA_VERSION:
            try:
                _migrate(db, found)
            except sqlite3.Error as e:
                raise StoreError(
                    f"Could not upgrade the job store {path} from schema v{found} to v{SCHEMA_VERSION} ({e}); "
                    "the upgrade is one transaction, so the file was left as it was and nothing was changed. "
                    "Free disk space or release the lock if the error says so, and run the command again."
                ) from e
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _migrate(db: sqlite3.Connection, found: int) -> None:
    if found == 0:
        # A new file, or one from before ftkit recorded versions: version 1's tables either way.
        for statement in _V1:
            db.execute(statement)
        found = 1
    oldest_reader = int(_meta(db).get("oldest_reader_schema", 1))
    for step in MIGRATIONS:
        if step.version > found:
            for statement in step.statements:
                db.execute(statement)
            oldest_reader = max(oldest_reader, step.oldest_reader)
    _set_meta(db, oldest_reader_schema=str(oldest_reader), migrated_by=_ftkit_version())
    # user_version lives in the file header and is part of this transaction: all or nothing.
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _accept_newer(db: sqlite3.Connection, found: int, path: Path) -> None:
    meta = _meta(db)
    oldest_reader = meta.get("oldest_reader_schema")
    if oldest_reader is not None and oldest_reader.isdigit() and int(oldest_reader) <= SCHEMA_VERSION:
        return  # only additive steps since ours: use it as it is, and leave its version alone
    raise StoreVersionError(path, found, SCHEMA_VERSION, written_by=meta.get("migrated_by"))


def _user_version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def _meta(db: sqlite3.Connection) -> dict[str, str]:
    exists = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'store_meta'").fetchone()
    if not exists:
        return {}
    return {row["key"]: row["value"] for row in db.execute("SELECT key, value FROM store_meta")}


def _set_meta(db: sqlite3.Connection, **values: str) -> None:
    for key, value in values.items():
        db.execute("INSERT OR REPLACE INTO store_meta (key, value) VALUES (?, ?)", (key, value))


def _ftkit_version() -> str:
    import ftkit  # at call time: ftkit/__init__ imports the store while it is itself still loading

    return str(getattr(ftkit, "__version__", "unknown"))
