"""The one command, end to end: an OpenAI job made with the plain SDK moves to a local tiny model, and a SIGKILL at
each step (import, keep, record, train, evaluate) is followed by a rerun that finishes with exactly one
retargeted job and never asks the OpenAI fine-tune again for a prompt whose answer was already recorded
(counted on the emulator's own log of chat requests)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ftkit.evaluation.cache import PredictionCache, model_identity, prediction_key
from ftkit.model import TrainedModel
from ftkit.registry import create_provider
from ftkit.store import JobStore
from ftkit.testing.tiny import tiny_model
from ftkit.types import GenerationSettings
from tests.migration.conftest import RemoteJob
from tests.providers.harness_openai import OPENAI_KEY

pytestmark = pytest.mark.slow

CONCURRENCY = 2


def _command(remote: RemoteJob, tiny: str, out: Path) -> list[str]:
    return [sys.executable, "-m", "ftkit.cli", "--no-progress", "migrate", remote.job_id, "--to", f"local:{tiny}",
            "--out", str(out), "--base-url", remote.server.base_url, "--concurrency", str(CONCURRENCY),
            "--max-new-tokens", "8", "-o", "max_steps=2", "-o", "logging_steps=1", "-o", "save_steps=1",
            *remote.data_flags()]  # the user's copies: OpenAI never hands training files back


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "FTKIT_HOME": str(home), "OPENAI_API_KEY": OPENAI_KEY, "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def _state(out: Path) -> dict[str, Any]:
    try:
        return json.loads((out / "migration-state.json").read_text())
    except (OSError, ValueError):
        return {}


def _kill_when(command: list[str], env: dict[str, str], ready: Callable[[], bool], *, after: float = 0.0,
               timeout: float = 240) -> None:
    """Start the command, SIGKILL it once ``ready()`` holds (plus ``after`` seconds), and reap it."""
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            if process.poll() is not None:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"the command ended ({process.returncode}) before the kill point:\n{output}")
            assert time.monotonic() < deadline, "kill point never reached"
            time.sleep(0.02)
        time.sleep(after)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)


def _recorded_keys(remote: RemoteJob, home: Path, prompts: list[list[dict[str, Any]]]) -> set[str]:
    """The prompts (as JSON) whose answers the prediction cache holds for the OpenAI fine-tune."""
    provider = create_provider("openai", api_key=OPENAI_KEY, base_url=remote.server.base_url)
    identity = model_identity(TrainedModel(provider="openai", model_id=remote.fine_tuned_model).bind(provider))
    settings = GenerationSettings(concurrency=CONCURRENCY, max_new_tokens=8)
    keys = {prediction_key(identity, p, settings): json.dumps(p, sort_keys=True) for p in prompts}
    with PredictionCache(home / "cache" / "predictions" / "predictions.sqlite") as cache:
        return {keys[k] for k in cache.get_many(keys)}


def test_migrate_survives_a_sigkill_at_every_step(remote_job: RemoteJob, tmp_path: Path, ftkit_home: Path) -> None:
    server, out = remote_job.server, tmp_path / "migration"
    tiny = str(tiny_model(tmp_path / "tiny-llama"))
    command, env = _command(remote_job, tiny, out), _env(ftkit_home)
    prompts = [r["messages"][:-1] for r in remote_job.validation_rows]

    # import: killed while the job is being read from OpenAI
    server.faults.add("GET", "/v1/fine_tuning/jobs/{job_id}", delay=3.0)
    _kill_when(command, env, lambda: _state(out).get("step") == "import", after=0.5)
    server.faults.clear()
    # keep: killed as soon as the data is being kept (answers are slow from here on, so none is stored yet)
    server.faults.add("POST", "/v1/chat/completions", delay=0.4, process=True, times=None)
    _kill_when(command, env, lambda: _state(out).get("step") in ("keep", "record"))
    # record: killed with some answers cached and others in flight (answered by the server, never stored)
    before = len(remote_job.chat_calls())
    _kill_when(command, env, lambda: len(remote_job.chat_calls()) >= before + 5)
    calls_at_kill = list(remote_job.chat_calls())
    recorded_at_kill = _recorded_keys(remote_job, ftkit_home, prompts)
    assert 0 < len(recorded_at_kill) < len(prompts)
    server.faults.clear()
    # train: killed while the local job trains (its worker goes on) or is being started
    _kill_when(command, env, lambda: bool(_state(out).get("jobs")), after=0.5)
    # evaluate: killed while the replacement answers the held-out prompts
    _kill_when(command, env, lambda: _state(out).get("step") == "evaluate", after=1.0)

    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "Traceback" not in finished.stderr

    report = json.loads((out / "report.json").read_text())
    assert (out / "report.html").read_text().startswith("<!doctype html>")
    target = report["targets"][0]
    assert target["state"] == "succeeded" and target["verdict"]
    assert target["agreement"]["n"] == len(prompts)
    assert report["source"]["recorded"] == len(prompts) and report["source"]["epochs"] >= 1
    # exactly one retargeted job, whatever was interrupted
    name = f"migrated {remote_job.job_id} -> local:{tiny}"
    assert len(JobStore(ftkit_home / "jobs.db").find_by_name(name)) == 1
    # no prompt recorded before the kill was sent to the fine-tune again, and each other prompt was asked once more
    later = remote_job.chat_calls()[len(calls_at_kill):]
    asked_again = [json.dumps(c["messages"], sort_keys=True) for c in later]
    assert not set(asked_again) & recorded_at_kill
    assert len(asked_again) == len(set(asked_again)) == len(prompts) - len(recorded_at_kill)
    # a rerun of a finished migration asks the fine-tune nothing
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(remote_job.chat_calls()) == len(calls_at_kill) + len(later)
    assert len(JobStore(ftkit_home / "jobs.db").find_by_name(name)) == 1
