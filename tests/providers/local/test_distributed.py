"""num_processes=2 launches through accelerate (DDP over gloo on CPU); both ranks train the same model."""

from __future__ import annotations

from pathlib import Path

import pytest
from ftkit.providers.local._rundir import RunDir

from .conftest import local_job

pytestmark = pytest.mark.slow


def test_two_processes_train_identical_replicas(tiny, store) -> None:
    job = local_job(store, tiny, options={"num_processes": 2, "max_steps": 6, "save_steps": 3})
    job.start()
    model = job.wait(timeout=240)
    run = RunDir(job.status().remote_id)
    hashes = {p.name: p.read_text() for p in (run.path / "replicas").glob("rank-*.sha256")}
    assert sorted(hashes) == ["rank-0.sha256", "rank-1.sha256"]
    assert len(set(hashes.values())) == 1, "DDP kept both ranks' weights bit-identical"
    assert model.metrics["replicas_identical"] == 1.0
    assert (Path(model.adapter_path) / "adapter_model.safetensors").exists()
