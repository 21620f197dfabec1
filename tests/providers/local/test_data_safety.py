"""Never destroy user data: non-empty output folders are refused, the disk is checked before training, a full
disk fails the job with that cause, and checkpoints appear only once completely written."""

from __future__ import annotations

import errno
import json
import subprocess
import sys
from pathlib import Path

import pytest
from ftkit.providers.local import _disk, _launch, _worker
from ftkit.providers.local._callbacks import RunDirCallback
from ftkit.providers.local._checkpoints import STAGING_DIR
from ftkit.providers.local._hardware import Hardware
from ftkit.providers.local._options import LocalOptions
from ftkit.providers.local._rundir import CHECKPOINT_MARKER, RunDir
from ftkit.providers.local._settings import resolve

from ftkit.errors import ConfigError
from ftkit.job import FineTuneJob
from ftkit.spec import JobSpec
from ftkit.store import JobStore
from ftkit.types import JobState

ROWS = [{"text": f"example number {i} says hello"} for i in range(16)]


def _job(tiny: str, tmp_path: Path, **options) -> FineTuneJob:
    return FineTuneJob(provider="local", model=tiny, train=ROWS, batch_size=4, store=JobStore(tmp_path / "jobs.db"),
                       options={"max_steps": 2, **options})


def test_a_non_empty_output_dir_is_refused_and_left_alone(tiny, tmp_path):
    mine = tmp_path / "models"
    mine.mkdir()
    job = _job(tiny, tmp_path, output_dir=str(mine))  # empty: accepted
    (mine / "last-year.safetensors").write_text("precious")
    with pytest.raises(ConfigError, match="not empty"):  # checked again when the job starts
        job.start()
    with pytest.raises(ConfigError, match="not empty"):  # and by validate / the job's construction
        _job(tiny, tmp_path, output_dir=str(mine))
    assert (mine / "last-year.safetensors").read_text() == "precious"


def test_start_refuses_when_the_disk_cannot_hold_the_checkpoints(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(_disk, "free_bytes", lambda path: 10 * 10**6)  # 10 MB free
    launched = []
    monkeypatch.setattr(_launch, "launch", lambda *a, **k: launched.append(1) or 1)
    with pytest.raises(ConfigError, match=r"Not enough disk space.*checkpoints.*10\.0 MB is free"):
        _job(tiny, tmp_path, save_total_limit=2).start()
    assert not launched, "nothing is started when the disk is too small"


def test_a_full_disk_fails_the_job_with_that_cause(tmp_path, monkeypatch):
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    partial = run.checkpoints / STAGING_DIR / "checkpoint-7"
    partial.mkdir(parents=True)

    def fill_the_disk(run_dir, is_main):
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as e:
            raise RuntimeError("safetensors: failed to write checkpoint-7/model.safetensors") from e

    monkeypatch.setattr(_worker, "_train", fill_the_disk)
    assert _worker.main(str(run.path)) == 1
    status = run.read_status()
    assert status["state"] == "failed" and status["raw_status"] == "disk_full"
    assert "disk filled up" in status["error"] and "resume()" in status["error"]
    assert not partial.exists(), "the half-written checkpoint (ftkit's own) is freed so the failure can be recorded"


def test_a_worker_killed_by_a_full_disk_is_reported_as_such(tiny, tmp_path, monkeypatch):
    def dies_of_a_full_disk(run, **kwargs):
        run.log_file.write_text("Traceback ...\nOSError: [Errno 28] No space left on device\n")
        process = subprocess.Popen([sys.executable, "-c", "pass"])
        process.wait()
        return process.pid

    monkeypatch.setattr(_launch, "launch", dies_of_a_full_disk)
    job = _job(tiny, tmp_path)
    job.start()
    status = job.status()
    assert status.state is JobState.FAILED and status.raw_status == "disk_full"
    assert "disk filled up" in status.error


def test_checkpoints_are_renamed_into_place_only_when_complete_and_rotated_after_marking(tiny, tmp_path,
                                                                                         monkeypatch):
    from ftkit.providers.local._training import build_trainer

    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    spec = JobSpec(provider="local", model=tiny, train=ROWS, batch_size=4, learning_rate=1e-3,
                   options={"max_steps": 3, "save_steps": 1, "save_total_limit": 1, "logging_steps": 1})
    options = LocalOptions.model_validate(spec.options)
    settings = resolve(spec, options, Hardware("cpu"))
    callback = RunDirCallback(run, is_main=True, stop_signal=lambda: False, keep_checkpoints=1)
    trainer = build_trainer(spec, options, settings, train_rows=ROWS, eval_rows=None, output_dir=run.checkpoints,
                            callbacks=[callback])
    original = trainer._save_rng_state

    def crash_in_the_third_save(output_dir):
        if trainer.state.global_step == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        original(output_dir)

    monkeypatch.setattr(trainer, "_save_rng_state", crash_in_the_third_save)
    with pytest.raises(OSError):
        trainer.train()
    names = sorted(p.name for p in run.checkpoints.iterdir() if p.is_dir())
    # checkpoint-1 was deleted only after checkpoint-2 was marked complete; checkpoint-3 never became visible
    assert names == [STAGING_DIR, "checkpoint-2"]
    assert (run.checkpoints / "checkpoint-2" / CHECKPOINT_MARKER).exists()
    assert run.checkpoint_problem(run.checkpoints / "checkpoint-2") is None
    assert (run.checkpoints / STAGING_DIR / "checkpoint-3").is_dir()
    assert run.last_good_checkpoint()[0] == run.checkpoints / "checkpoint-2"
    state = json.loads((run.checkpoints / "checkpoint-2" / "trainer_state.json").read_text())
    assert STAGING_DIR not in json.dumps(state)


def test_rotation_keeps_the_best_and_never_the_last_trusted_one(tmp_path):
    run = RunDir(tmp_path / "run")
    for step in (1, 2, 3, 4):
        d = run.checkpoints / f"checkpoint-{step}"
        d.mkdir(parents=True)
        (d / "w.bin").write_bytes(b"x" * step)
        if step != 4:
            run.mark_checkpoint_complete(d, step)
    removed = run.rotate_checkpoints(1, protect=run.checkpoints / "checkpoint-1")
    left = sorted(p.name for p in run.checkpoints.iterdir())
    assert left == ["checkpoint-1", "checkpoint-3", "checkpoint-4"]  # best, newest trusted, one in progress
    assert [p.name for p in removed] == ["checkpoint-2"]


@pytest.mark.slow
def test_an_empty_output_dir_receives_the_model(tiny, tmp_path):
    target = tmp_path / "mine"
    target.mkdir()
    job = _job(tiny, tmp_path, output_dir=str(target), max_steps=1, save_steps=1)
    job.start()
    model = job.wait(timeout=300)
    assert Path(model.adapter_path) == target
    assert (target / "adapter_model.safetensors").exists() and (target / "metrics.json").exists()
    run = RunDir(job.status().remote_id)
    assert not (run.path / ".output.partial").exists()
    assert [d.name for d in run.checkpoints.iterdir() if d.is_dir()] == ["checkpoint-1"]  # staging cleaned
