"""A local job behaves like a managed one: it survives kill -9, resumes to the same weights, cancels
with a checkpoint kept, and can be followed from another process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from ftkit.providers.local._rundir import RunDir

from ftkit.errors import ConfigError
from ftkit.job import FineTuneJob
from ftkit.types import JobState

from .conftest import adapter_tensors, local_job

pytestmark = pytest.mark.slow

CRASH_OPTIONS = {"max_steps": 40, "save_steps": 5, "logging_steps": 5}


def _run_dir(job: FineTuneJob) -> RunDir:
    return RunDir(job.status().remote_id)


def _wait_for_step(job: FineTuneJob, step: int, timeout: float = 120.0) -> None:
    run = _run_dir(job)
    deadline = time.monotonic() + timeout
    while (run.read_status().get("step") or 0) < step:
        assert time.monotonic() < deadline, f"the job never reached step {step}"
        assert not job.status().is_terminal, job.status().error
        time.sleep(0.02)


def test_kill_9_then_resume_ends_with_the_same_adapter(tiny, store) -> None:
    reference = local_job(store, tiny, options=CRASH_OPTIONS)
    crashed = local_job(store, tiny, options=CRASH_OPTIONS)
    reference.start()
    crashed.start()
    _wait_for_step(crashed, 12)
    os.killpg(_run_dir(crashed).read_status()["pid"], signal.SIGKILL)  # no chance to clean up

    deadline = time.monotonic() + 10
    while crashed.status().state is not JobState.FAILED:
        assert time.monotonic() < deadline, "a dead worker is reported as failed"
        time.sleep(0.1)
    assert "resume()" in crashed.status().error

    again = FineTuneJob.attach(crashed.id, store=store)
    again.resume()
    resumed_model = again.wait(timeout=180)
    reference_model = reference.wait(timeout=180)

    events = [e.message for e in again.events()]
    assert any("resuming from checkpoint-" in m for m in events)
    expected, got = adapter_tensors(reference_model.adapter_path), adapter_tensors(resumed_model.adapter_path)
    assert expected.keys() == got.keys()
    for name in expected:
        assert torch.equal(expected[name], got[name]), f"{name} differs after resume"


def test_cancel_keeps_a_checkpoint_and_resume_finishes(tiny, store) -> None:
    job = local_job(store, tiny, options={"max_steps": 60, "save_steps": 1000, "logging_steps": 5})
    job.start()
    _wait_for_step(job, 3)
    status = job.cancel()
    assert status.state is JobState.CANCELLED
    run = _run_dir(job)
    kept = run.last_checkpoint_step()
    assert kept is not None and kept >= 3, "cancel saves a checkpoint of the work done"
    assert run.checkpoint_problem(run.checkpoints / f"checkpoint-{kept}") is None

    job.resume()
    model = job.wait(timeout=180)
    assert model.metrics["global_step"] == 60
    assert any(f"resuming from checkpoint-{kept}" in e.message for e in job.events())


def test_resume_refuses_when_the_data_changed(tiny, store) -> None:
    job = local_job(store, tiny, options={"max_steps": 200, "save_steps": 1000})
    job.start()
    _wait_for_step(job, 1)
    job.cancel()
    with open(job.spec.train, "a", encoding="utf-8") as f:
        f.write('{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}\n')
    with pytest.raises(ConfigError, match="train data changed"):
        job.resume()


def test_another_process_attaches_and_waits(tiny, store) -> None:
    job = local_job(store, tiny)
    job.start()
    code = (
        "import sys; from ftkit.job import FineTuneJob; from ftkit.store import JobStore\n"
        f"job = FineTuneJob.attach({job.id!r}, store=JobStore({str(store.path)!r}))\n"
        "model = job.wait(timeout=180)\n"
        "print(job.status().state.value, model.adapter_path, len(list(job.events())))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr
    state, adapter, n_events = out.stdout.split()
    assert state == "succeeded"
    assert adapter == job.wait(timeout=60).adapter_path
    assert int(n_events) >= 4
