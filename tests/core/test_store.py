"""The sqlite job store: durable, shared by processes, never holding a secret."""

from __future__ import annotations

import multiprocessing as mp
from datetime import datetime, timezone

import pytest

from ftkit import _secrets
from ftkit.errors import JobNotFoundError
from ftkit.store import JobRecord, JobStore, process_owner
from ftkit.types import JobEvent, JobState


def _record(job_id: str, **extra) -> JobRecord:
    now = datetime.now(timezone.utc)
    return JobRecord(id=job_id, provider="echo", state=JobState.PENDING, raw_status="created",
                     spec={"provider": "echo", "model": "m", "train": "t.jsonl"}, created_at=now, updated_at=now, **extra)


def _event(i: int) -> JobEvent:
    return JobEvent(id=f"e{i}", time=datetime.now(timezone.utc), message=f"event {i}")


def test_store_is_a_wal_sqlite_file(tmp_path):
    store = JobStore(tmp_path / "jobs.db")
    store.create_job(_record("ftk-1"))
    mode = store._connect().execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert JobStore(tmp_path / "jobs.db").get_job("ftk-1").provider == "echo"


def test_default_location_follows_ftkit_home(ftkit_home):
    assert JobStore().path == ftkit_home / "jobs.db"


def test_update_and_list(tmp_path):
    store = JobStore(tmp_path / "jobs.db")
    for i in range(3):
        store.create_job(_record(f"ftk-{i}"))
    store.update_job("ftk-1", state=JobState.RUNNING, raw_status="running", provider_data={"file": "f-1"})
    record = store.get_job("ftk-1")
    assert record.state is JobState.RUNNING and record.provider_data == {"file": "f-1"}
    assert {r.id for r in store.list_jobs(state=JobState.RUNNING)} == {"ftk-1"}
    with pytest.raises(JobNotFoundError):
        store.update_job("nope", state=JobState.FAILED)


def test_events_are_deduplicated_and_ordered(tmp_path):
    store = JobStore(tmp_path / "jobs.db")
    store.create_job(_record("ftk-1"))
    assert [e.id for e in store.add_events("ftk-1", [_event(1), _event(2)], cursor="e2")] == ["e1", "e2"]
    # a provider page that overlaps the previous one (OpenAI pages newest-first) adds only what is new
    assert [e.id for e in store.add_events("ftk-1", [_event(2), _event(3)], cursor="e3")] == ["e3"]
    assert [e.id for _, e in store.events_after("ftk-1")] == ["e1", "e2", "e3"]
    assert store.get_job("ftk-1").event_cursor == "e3"


def test_uploads_are_remembered_per_endpoint_and_content(tmp_path):
    store = JobStore(tmp_path / "jobs.db")
    store.record("openai", "http://a/v1", "sha-1", "file-1", "train.jsonl")
    assert store.find("openai", "http://a/v1", "sha-1") == "file-1"
    assert store.find("openai", "http://b/v1", "sha-1") is None
    assert store.find("together", "http://a/v1", "sha-1") is None
    store.record("openai", "http://a/v1", "sha-1", "file-2", "train.jsonl")  # a re-upload replaces the old id
    assert store.find("openai", "http://a/v1", "sha-1") == "file-2"


def test_prefix_resolution(tmp_path):
    store = JobStore(tmp_path / "jobs.db")
    store.create_job(_record("ftk-20261122-aaa"))
    store.create_job(_record("ftk-20261122-abb"))
    assert store.resolve_id("ftk-20261122-aa") == "ftk-20261122-aaa"
    with pytest.raises(JobNotFoundError, match="several"):
        store.resolve_id("ftk-20261122-a")


def test_a_secret_is_never_written(tmp_path):
    store = JobStore(tmp_path / "jobs.db")
    _secrets.register(["sk-test-never-store-me-123"])
    with pytest.raises(ValueError, match="secret"):
        store.create_job(_record("ftk-1", provider_data={"key": "sk-test-never-store-me-123"}))
    store.create_job(_record("ftk-2"))
    with pytest.raises(ValueError, match="secret"):
        store.add_events("ftk-2", [JobEvent(id="x", time=datetime.now(timezone.utc), message="sk-test-never-store-me-123")])
    for path in tmp_path.glob("jobs.db*"):
        assert b"sk-test-never-store-me-123" not in path.read_bytes()


def test_submission_claim_excludes_a_live_second_owner(tmp_path):
    store = JobStore(tmp_path / "jobs.db")
    store.create_job(_record("ftk-1"))
    assert store.claim_submission("ftk-1", process_owner())
    # a different live process on this host (our parent) may not claim it while we hold it
    import os
    import socket

    other = f"{socket.gethostname()}:{os.getppid()}"
    assert not store.claim_submission("ftk-1", other)
    # a dead owner's claim is taken over
    store.update_job("ftk-1", submit_owner=f"{socket.gethostname()}:999999999")
    assert store.claim_submission("ftk-1", process_owner())


def _writer(path: str, worker: int, n: int) -> None:
    store = JobStore(path)
    for i in range(n):
        job_id = f"ftk-w{worker}-{i}"
        store.create_job(_record(job_id))
        store.update_job(job_id, state=JobState.RUNNING, raw_status="running", step=i)
        store.add_events(job_id, [_event(i), _event(i + 1)], cursor=str(i))
        store.record("p", "e", f"{worker}-{i}", f"file-{i}")


def test_two_processes_write_at_once(tmp_path):
    path = str(tmp_path / "jobs.db")
    JobStore(path)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, w, 60)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    store = JobStore(path)
    jobs = store.list_jobs(limit=1000)
    assert len(jobs) == 120
    assert all(j.state is JobState.RUNNING for j in jobs)
    assert all(len(store.events_after(j.id)) == 2 for j in jobs)
