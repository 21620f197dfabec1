"""The deployments table: every paid endpoint is on disk before it exists, and stays findable after a crash."""

from __future__ import annotations

import multiprocessing as mp
import re
from datetime import timedelta

import pytest

from ftkit import _secrets
from ftkit.errors import DeploymentNotFoundError, FtkitError
from ftkit.store import DeploymentRecord, JobStore, new_deployment_id, utcnow


def _deployment(dep_id: str, **fields) -> DeploymentRecord:
    base = {"id": dep_id, "provider": "echo", "model_id": "echo:ftk-1", "job_id": "ftk-1",
            "settings": {"min_replicas": 1}, "created_by": "user"}
    return DeploymentRecord(**{**base, **fields})


def test_a_deployment_round_trips_every_column(tmp_path):
    store = JobStore(tmp_path / "jobs.db")
    record = _deployment("dep-1", remote_id="ep-9", state="ready", serving_id="acct/echo-ft-1", price_per_hour=2.4,
                         provider_data={"hardware": "1x_a100"}, created_by="evaluation", error=None)
    assert store.create_deployment(record) == record
    again = JobStore(tmp_path / "jobs.db").get_deployment("dep-1")  # another store (process) sees it all
    assert again == record


def test_updates_are_recorded_at_once_and_move_updated_at(tmp_path):
    store = JobStore(tmp_path / "jobs.db")
    created = store.create_deployment(_deployment("dep-1"))
    assert created.state == "creating" and created.remote_id is None and created.deleted_at is None
    updated = store.update_deployment("dep-1", remote_id="ep-1", provider_data={"name": "ep-1"})
    assert (updated.remote_id, updated.provider_data) == ("ep-1", {"name": "ep-1"})
    assert updated.updated_at >= created.updated_at
    from ftkit.deployment import DeploymentState  # the facade passes enum members or their values

    gone = store.update_deployment("dep-1", state=DeploymentState.DELETED, deleted_at=utcnow())
    assert gone.state == "deleted" and not gone.is_active
    with pytest.raises(ValueError, match="created_at"):
        store.update_deployment("dep-1", created_at=utcnow())
    with pytest.raises(DeploymentNotFoundError):
        store.update_deployment("dep-nope", state="ready")


def test_an_unknown_deployment_says_how_to_list_them(tmp_path):
    store = JobStore(tmp_path / "jobs.db")
    with pytest.raises(DeploymentNotFoundError, match="ftkit deployments list") as info:
        store.get_deployment("dep-missing")
    assert isinstance(info.value, FtkitError) and isinstance(info.value, LookupError)
    assert info.value.deployment_id == "dep-missing"


def test_list_is_newest_first_and_filters_provider_and_active(tmp_path):
    store = JobStore(tmp_path / "jobs.db")
    start = utcnow()
    for i, (provider, deleted) in enumerate([("echo", False), ("other", False), ("echo", True), ("echo", False)]):
        store.create_deployment(_deployment(f"dep-{i}", provider=provider, created_at=start + timedelta(seconds=i),
                                            deleted_at=start if deleted else None,
                                            state="deleted" if deleted else "ready"))
    assert [r.id for r in store.list_deployments()] == ["dep-3", "dep-2", "dep-1", "dep-0"]
    assert [r.id for r in store.list_deployments(provider="echo")] == ["dep-3", "dep-2", "dep-0"]
    assert [r.id for r in store.list_deployments(active_only=True)] == ["dep-3", "dep-1", "dep-0"]
    assert [r.id for r in store.list_deployments(provider="echo", active_only=True, limit=1)] == ["dep-3"]


def test_deployment_ids_sort_by_time_and_resolve_from_a_prefix(tmp_path):
    dep_id = new_deployment_id()
    assert re.fullmatch(r"dep-\d{8}-\d{6}-[0-9a-f]{6}", dep_id)
    store = JobStore(tmp_path / "jobs.db")
    store.create_deployment(_deployment("dep-20261201-aaa"))
    store.create_deployment(_deployment("dep-20261201-abb"))
    store.create_deployment(_deployment("dep-20261201-a"))
    assert store.resolve_deployment_id("dep-20261201-aa") == "dep-20261201-aaa"
    assert store.resolve_deployment_id("dep-20261201-a") == "dep-20261201-a"  # an exact id wins over its prefix
    with pytest.raises(DeploymentNotFoundError, match="several"):
        store.resolve_deployment_id("dep-20261201-")
    with pytest.raises(DeploymentNotFoundError, match="ftkit deployments list"):
        store.resolve_deployment_id("dep-1999")
    # job and deployment ids never resolve into each other's table
    with pytest.raises(FtkitError):
        store.resolve_id("dep-20261201-aa")


def test_a_secret_is_never_written_to_a_deployment(tmp_path):
    key = "sk-deploy-never-store-me-456"
    store = JobStore(tmp_path / "jobs.db")
    _secrets.register([key])
    with pytest.raises(ValueError, match="secret"):
        store.create_deployment(_deployment("dep-1", settings={"auth": f"Bearer {key}"}))
    store.create_deployment(_deployment("dep-2"))
    with pytest.raises(ValueError, match="secret"):
        store.update_deployment("dep-2", provider_data={"token": key})
    with pytest.raises(ValueError, match="secret"):
        store.update_deployment("dep-2", error=f"401 for key {key}")
    assert store.get_deployment("dep-2").provider_data == {}
    for path in tmp_path.glob("jobs.db*"):
        assert key.encode() not in path.read_bytes()


def _deployer(path: str, worker: int, n: int) -> None:
    store = JobStore(path)
    for i in range(n):
        dep_id = f"dep-w{worker}-{i}"
        store.create_deployment(_deployment(dep_id))
        store.update_deployment(dep_id, remote_id=f"ep-{worker}-{i}", state="ready")
        store.create_deployment(_deployment(f"{dep_id}-gone", state="deleted", deleted_at=utcnow()))


def test_two_processes_record_deployments_at_once(tmp_path):
    path = str(tmp_path / "jobs.db")
    JobStore(path)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_deployer, args=(path, w, 30)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    active = JobStore(path).list_deployments(active_only=True, limit=1000)
    assert len(active) == 60 and all(r.state == "ready" and r.remote_id for r in active)
    assert len(JobStore(path).list_deployments(limit=1000)) == 120
