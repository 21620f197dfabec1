"""The job store survives upgrades: older files migrate in place, newer ones are refused or read leniently.

``fixtures/store_v1.db`` was written by ftkit 0.1 (schema v1) through the real facade and the echo
plugin (``fixtures/make_store_v1.py``); every test works on a copy, never on the committed file.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest

from ftkit import FineTuneJob, JobState
from ftkit._store_schema import MIGRATIONS, SCHEMA_VERSION
from ftkit.errors import FtkitError, StoreError, StoreVersionError
from ftkit.store import JobStore

FIXTURE = Path(__file__).parent / "fixtures" / "store_v1.db"


def _raw(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    return db


def _snapshot(path: Path) -> dict[str, list[dict]]:
    db = _raw(path)
    try:
        return {
            table: [dict(r) for r in db.execute(f"SELECT * FROM {table} ORDER BY {order}")]
            for table, order in (("jobs", "id"), ("events", "seq"), ("uploads", "content_hash"))
        }
    finally:
        db.close()


@pytest.fixture
def v1_store(tmp_path) -> Path:
    path = tmp_path / "jobs.db"
    shutil.copyfile(FIXTURE, path)
    return path


def test_the_fixture_is_a_version_1_file():
    db = _raw(FIXTURE)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "deployments" not in tables and {"jobs", "events", "uploads"} <= tables
    db.close()


def test_a_version_1_store_migrates_in_place_and_keeps_every_job_event_and_upload(v1_store):
    before = _snapshot(v1_store)
    assert len(before["jobs"]) == 4 and len(before["events"]) == 9 and len(before["uploads"]) == 2

    store = JobStore(v1_store)

    db = _raw(v1_store)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    meta = dict(db.execute("SELECT key, value FROM store_meta").fetchall())
    assert meta["oldest_reader_schema"] == "1"
    db.close()
    assert _snapshot(v1_store) == before  # the migration only adds: not one row or value changed

    # and the new code reads every record as the old code wrote it
    jobs = {r.name: r for r in store.list_jobs(limit=100)}
    assert {name: r.state for name, r in jobs.items()} == {
        "finished": JobState.SUCCEEDED, "cancelled": JobState.CANCELLED,
        "interrupted": JobState.RUNNING, "failed": JobState.FAILED,
    }
    for row in before["jobs"]:
        record = store.get_job(row["id"])
        assert record.spec == json.loads(row["spec"])
        assert record.provider_data == json.loads(row["provider_data"])
        assert record.remote_id == row["remote_id"] and record.error == row["error"]
        stored = [e for e in before["events"] if e["job_id"] == row["id"]]
        assert [(seq, e.model_dump_json()) for seq, e in store.events_after(row["id"])] == [
            (e["seq"], e["body"]) for e in stored
        ]
    assert jobs["failed"].error == "the training file has 3 bad rows"
    assert jobs["finished"].result["metrics"] == {"loss": 0.25}
    assert store.find("echo", "https://echo.invalid/v1", "sha256-" + "ab" * 32) == "file-echo-1"
    assert store.list_deployments() == []


def test_a_migrated_store_serves_the_facade(v1_store, monkeypatch):
    monkeypatch.setenv("FTKIT_HOME", str(v1_store.parent))
    statuses = {s.job_id: s for s in FineTuneJob.list(limit=10)}
    assert len(statuses) == 4
    finished = next(s for s in statuses.values() if s.state is JobState.SUCCEEDED)
    job = FineTuneJob.attach(finished.job_id, api_key="echo-fixture-key")
    model = job.result()
    assert model.model_id == f"echo:{finished.job_id}" and model.metrics == {"loss": 0.25}
    assert [e.message for e in job.events()] == ["job queued", "step 1", "step 2", "step 3", "job succeeded"]


def test_a_failed_migration_leaves_the_file_as_it_was(v1_store, monkeypatch):
    import ftkit._store_schema as schema

    broken = schema.Migration(version=SCHEMA_VERSION + 1, oldest_reader=1,
                              statements=("CREATE TABLE extra_thing (x TEXT)", "THIS IS NOT SQL"))
    monkeypatch.setattr(schema, "MIGRATIONS", (*MIGRATIONS, broken))
    monkeypatch.setattr(schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    before = _snapshot(v1_store)
    with pytest.raises(StoreError, match=f"from schema v1 to v{SCHEMA_VERSION + 1} .*nothing was changed"):
        JobStore(v1_store)
    db = _raw(v1_store)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not tables & {"deployments", "extra_thing", "store_meta"}  # all steps rolled back together
    db.close()
    assert _snapshot(v1_store) == before


def test_processes_opening_an_old_file_at_once_migrate_it_once(tmp_path):
    # The race (several connections leaving the rollback journal for WAL at once) is lost by one opener
    # in a few dozen tries, so it is run on several fresh copies to make a regression show.
    for attempt in range(12):
        path = tmp_path / f"jobs-{attempt}.db"
        shutil.copyfile(FIXTURE, path)
        errors: list[BaseException] = []

        def open_it(path: Path = path, errors: list[BaseException] = errors) -> None:
            try:
                JobStore(path).list_deployments()
            except BaseException as e:  # surfaced below
                errors.append(e)

        threads = [threading.Thread(target=open_it) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert errors == [], f"copy {attempt}"
        assert len(JobStore(path).list_jobs()) == 4


def test_a_file_reopened_by_ftkit_0_1_is_migrated_again_without_loss(tmp_path):
    path = tmp_path / "jobs.db"
    store = JobStore(path)
    from ftkit.store import DeploymentRecord

    store.create_deployment(DeploymentRecord(id="dep-1", provider="echo", model_id="echo:ftk-1"))
    store.close()
    db = _raw(path)
    db.execute("PRAGMA user_version = 1")  # what ftkit 0.1 did on every open
    db.close()
    assert JobStore(path).get_deployment("dep-1").model_id == "echo:ftk-1"
    assert _raw(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def _from_the_future(path: Path, *, oldest_reader: int) -> None:
    JobStore(path).close()
    db = _raw(path)
    db.execute("INSERT OR REPLACE INTO store_meta VALUES ('oldest_reader_schema', ?)", (str(oldest_reader),))
    db.execute("INSERT OR REPLACE INTO store_meta VALUES ('migrated_by', '9.4.0')")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    db.commit()
    db.execute("PRAGMA journal_mode = DELETE")  # so that opening it in WAL mode would change its header
    db.close()


def test_a_store_from_a_newer_incompatible_ftkit_is_refused_with_what_to_do(tmp_path):
    path = tmp_path / "jobs.db"
    _from_the_future(path, oldest_reader=SCHEMA_VERSION + 3)
    before = path.read_bytes()
    with pytest.raises(StoreVersionError) as info:
        JobStore(path)
    error = info.value
    assert isinstance(error, FtkitError) and error.found == SCHEMA_VERSION + 5
    message = str(error)
    assert "ftkit 9.4.0" in message and "pip install -U 'ftkit>=9.4.0'" in message and "FTKIT_HOME" in message
    assert path.read_bytes() == before


def test_the_cli_reports_a_newer_store_instead_of_crashing(tmp_path, monkeypatch, capsys):
    from ftkit.cli import main

    _from_the_future(tmp_path / "jobs.db", oldest_reader=SCHEMA_VERSION + 1)
    monkeypatch.setenv("FTKIT_HOME", str(tmp_path))
    assert main(["jobs", "list"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "Upgrade ftkit" in err and "9.4.0" in err and "Traceback" not in err


def test_a_newer_store_with_only_additive_changes_is_used_as_it_is(tmp_path):
    path = tmp_path / "jobs.db"
    _from_the_future(path, oldest_reader=1)
    from ftkit.store import JobRecord, utcnow

    # what a newer ftkit might have added: a column (with a default), and new keys in JSON and events
    db = _raw(path)
    db.execute("ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE deployments ADD COLUMN region TEXT")
    now = utcnow().isoformat()
    db.execute(
        "INSERT INTO jobs (id, provider, state, raw_status, spec, result, created_at, updated_at, priority) "
        "VALUES ('ftk-new', 'echo', 'succeeded', 'done', ?, ?, ?, ?, 3)",
        (json.dumps({"provider": "echo", "model": "m", "train": "t.jsonl"}),
         json.dumps({"provider": "echo", "model_id": "echo:ftk-new", "hosting_hint": "x"}), now, now),
    )
    db.execute("INSERT INTO events (job_id, event_id, body) VALUES ('ftk-new', 'e1', ?)",
               (json.dumps({"id": "e1", "time": now, "message": "hi", "span_id": "abc"}),))
    db.execute("INSERT INTO deployments (id, provider, model_id, state, created_at, updated_at, region) "
               "VALUES ('dep-new', 'echo', 'echo:ftk-new', 'ready', ?, ?, 'eu')", (now, now))
    db.commit()
    db.close()

    store = JobStore(path)
    record = store.get_job("ftk-new")
    assert record.state is JobState.SUCCEEDED and record.result["model_id"] == "echo:ftk-new"
    model = FineTuneJob.attach("ftk-new", store=store, api_key="echo-k").result()  # its result has a new key
    assert model.model_id == "echo:ftk-new"
    assert [e.message for _, e in store.events_after("ftk-new")] == ["hi"]
    assert store.get_deployment("dep-new").state == "ready"
    # and this (older) ftkit can still write to it
    store.create_job(JobRecord(id="ftk-old", provider="echo", state=JobState.PENDING, raw_status="created",
                               spec={}, created_at=utcnow(), updated_at=utcnow()))
    assert {r.id for r in store.list_jobs()} == {"ftk-new", "ftk-old"}
    assert _raw(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 5  # never lowered


def test_a_file_that_is_not_a_store_gives_a_clear_error(tmp_path):
    path = tmp_path / "jobs.db"
    path.write_text("these are my notes, not a database\n" * 200)
    with pytest.raises(StoreError, match="not a job store"):
        JobStore(path)
    assert path.read_text().startswith("these are my notes")


def test_a_record_with_a_value_this_ftkit_has_no_name_for_is_reported_not_fatal(tmp_path, caplog):
    from ftkit.store import JobRecord, utcnow

    store = JobStore(tmp_path / "jobs.db")
    for job_id in ("ftk-a", "ftk-b"):
        store.create_job(JobRecord(id=job_id, provider="echo", state=JobState.RUNNING, raw_status="running",
                                   spec={}, created_at=utcnow(), updated_at=utcnow()))
    db = _raw(tmp_path / "jobs.db")
    db.execute("UPDATE jobs SET state = 'hibernating' WHERE id = 'ftk-b'")  # a state from a future ftkit
    db.commit()
    db.close()
    with pytest.raises(StoreError, match=r"'ftk-b'.*state.*upgrade ftkit"):
        store.get_job("ftk-b")
    with caplog.at_level("WARNING", logger="ftkit.store"):
        assert [r.id for r in store.list_jobs()] == ["ftk-a"]
    assert "ftk-b" in caplog.text


def test_attaching_to_a_job_whose_spec_has_a_setting_this_ftkit_lacks_says_to_upgrade(tmp_path):
    from ftkit.store import JobRecord, utcnow

    store = JobStore(tmp_path / "jobs.db")
    spec = {"provider": "echo", "model": "echo-base", "train": "t.jsonl", "curriculum": "easy-first"}
    store.create_job(JobRecord(id="ftk-future", provider="echo", state=JobState.RUNNING, raw_status="working",
                               spec=spec, created_at=utcnow(), updated_at=utcnow()))
    # never silently dropped: re-submitting without it would train something else
    with pytest.raises(StoreError, match=r"ftk-future .*curriculum.*upgrade ftkit"):
        FineTuneJob.attach("ftk-future", store=store, api_key="echo-k")
    assert [s.job_id for s in FineTuneJob.list(store=store)] == ["ftk-future"]  # still listed


def test_a_migrated_file_has_exactly_the_schema_of_a_new_one(v1_store, tmp_path):
    def schema(path: Path) -> list[tuple[str, str]]:
        db = _raw(path)
        try:
            # the same statements, whatever their indentation in the file that created them
            return sorted((r["name"], " ".join(r["sql"].split())) for r in db.execute(
                "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"))
        finally:
            db.close()

    JobStore(v1_store).close()
    JobStore(tmp_path / "new" / "jobs.db").close()
    assert schema(v1_store) == schema(tmp_path / "new" / "jobs.db")
    assert {name for name, _ in schema(v1_store)} >= {"jobs", "events", "uploads", "deployments", "store_meta"}
