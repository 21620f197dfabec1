"""The FineTuneJob facade: checks before side effects, the store, polling, events, attach, secrets.

Driven through the third-party `echo` provider (tests/plugins), so these tests exercise the same
plugin path a user's own provider takes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import ClassVar

import pytest

from ftkit import (
    DatasetError,
    FineTuneJob,
    JobCancelledError,
    JobState,
    JobStateError,
    MissingCredentialsError,
    ProviderError,
    UnsupportedSettingError,
)
from ftkit.errors import WaitTimeoutError
from ftkit.registry import get_provider, register_provider
from ftkit.testing import colour_examples

KEY = "echo-secret-key-abcdefghij"


def echo_job(**overrides) -> FineTuneJob:
    kwargs = {"provider": "echo", "model": "echo-base", "train": colour_examples(12), "api_key": KEY,
              "options": {"steps": 3, "step_seconds": 0.02}}
    kwargs.update(overrides)
    return FineTuneJob(**kwargs)


def test_every_unsupported_setting_is_reported_at_once():
    with pytest.raises(UnsupportedSettingError) as info:
        echo_job(adapter="qlora", learning_rate=1e-4, lora_r=8, options={"steps": 2, "speed": "fast"})
    problems = info.value.problems
    assert len(problems) == 4
    assert any("learning_rate" in p and "remove it" in p for p in problems)
    assert any("options.speed" in p and "steps" in p for p in problems)


def test_missing_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("ECHO_API_KEY", raising=False)
    job = FineTuneJob(provider="echo", model="m", train=colour_examples(12))
    with pytest.raises(MissingCredentialsError, match="ECHO_API_KEY"):
        job.start()


def test_in_memory_data_is_materialised_and_recorded(ftkit_home):
    job = echo_job()
    job.start()
    train = Path(job.spec.train)
    assert train.is_file() and train.parent == ftkit_home / "data"
    assert [json.loads(line) for line in train.read_text().splitlines()] == colour_examples(12)
    assert job.record.spec["train"] == str(train)
    assert job.record.estimate["tokens"]["examples"] == 12
    job.wait(timeout=10)


def test_bad_data_is_refused_with_line_numbers_and_nothing_recorded(tmp_path):
    path = tmp_path / "train.jsonl"
    lines = [json.dumps(e) for e in colour_examples(12)] + ["{not json", json.dumps({"messages": []})]
    path.write_text("\n".join(lines) + "\n")
    job = echo_job(train=str(path))
    with pytest.raises(DatasetError) as info:
        job.start()
    assert {i.line for i in info.value.report.errors} >= {13}
    assert "13" in str(info.value)
    assert FineTuneJob.list() == []


def test_wait_returns_the_model_and_events_arrive_once():
    job = echo_job()
    job.start()
    seen = []
    model = job.wait(timeout=10, on_event=seen.append)
    assert model.model_id == f"echo:{job.id}" and model.job_id == job.id
    ids = [e.id for e in seen]
    assert len(ids) == len(set(ids))
    assert {"0", "1", "2", "3", "end"} <= set(ids)
    assert job.status().state is JobState.SUCCEEDED
    assert job.record.actual == {"trained_tokens": 100}
    # following a finished job gives the whole log once and stops
    assert [e.id for e in job.events(follow=True)] == [e.id for e in job.events()]


def test_wait_timeout_leaves_the_job_running():
    job = echo_job(options={"steps": 500, "step_seconds": 0.05})
    job.start()
    with pytest.raises(WaitTimeoutError, match="still running"):
        job.wait(timeout=0.3)
    assert job.status().state is JobState.RUNNING
    job.cancel()
    with pytest.raises(JobCancelledError):
        job.wait(timeout=5)


def test_start_twice_is_refused():
    job = echo_job()
    job.start()
    with pytest.raises(JobStateError, match="already started"):
        job.start()


def test_status_before_start_is_refused():
    with pytest.raises(JobStateError, match="start"):
        echo_job().status()


class FlakyEcho(get_provider("echo")):  # type: ignore[misc]
    """Echo whose first submit dies right after recording its remote id, like a crash mid-start."""

    name = "flaky-echo"
    submits: ClassVar[list[str]] = []

    def submit(self, ctx):
        FlakyEcho.submits.append(ctx.remote_id or "new")
        if ctx.remote_id is None:
            ctx.remember(remote_id=f"echo-{ctx.job_id}", submitted=time.time())
            raise ProviderError("connection dropped after create", provider=self.name)
        return self.status(ctx)


def test_an_interrupted_start_resumes_on_attach_without_a_second_create():
    register_provider("flaky-echo", FlakyEcho, replace=True)
    FlakyEcho.submits.clear()
    job = echo_job(provider="flaky-echo")
    with pytest.raises(ProviderError):
        job.start()
    record = job.record
    assert record.remote_id == f"echo-{job.id}" and record.submitted_at is None
    again = FineTuneJob.attach(job.id, api_key=KEY)
    assert again.status().state in (JobState.QUEUED, JobState.RUNNING, JobState.SUCCEEDED)
    assert FlakyEcho.submits == ["new", f"echo-{job.id}"]  # the second call saw the first's remote id
    assert again.wait(timeout=10).model_id == f"echo:{job.id}"


def test_errors_never_carry_the_key():
    class LeakyEcho(get_provider("echo")):  # type: ignore[misc]
        name = "leaky-echo"

        def submit(self, ctx):
            raise ProviderError(f"bad request with Authorization: Bearer {self.api_key}", provider=self.name)

    register_provider("leaky-echo", LeakyEcho, replace=True)
    job = echo_job(provider="leaky-echo")
    with pytest.raises(ProviderError) as info:
        job.start()
    assert KEY not in str(info.value) and "***" in str(info.value)
    assert KEY not in repr(job) and KEY not in repr(job.provider)


def test_key_from_the_environment_is_kept_out_of_the_store(monkeypatch, ftkit_home):
    monkeypatch.setenv("ECHO_API_KEY", "echo-env-key-zyxwvutsrq")
    job = FineTuneJob(provider="echo", model="echo-base", train=colour_examples(12), options={"steps": 2, "step_seconds": 0.01})
    job.start()
    job.wait(timeout=10)
    for path in ftkit_home.rglob("*"):
        if path.is_file():
            assert b"echo-env-key-zyxwvutsrq" not in path.read_bytes(), path


def test_a_second_process_attaches_mid_job_and_sees_every_event_once(ftkit_home):
    job = echo_job(options={"steps": 15, "step_seconds": 0.1})
    job.start()
    script = (
        "import json, sys\n"
        "from ftkit import FineTuneJob\n"
        f"job = FineTuneJob.attach({job.id!r})\n"
        "ids = [e.id for e in job.events(follow=True)]\n"
        "print(json.dumps({'ids': ids, 'state': job.status().state.value}))\n"
    )
    env = {**os.environ, "FTKIT_HOME": str(ftkit_home), "ECHO_API_KEY": KEY,
           "PYTHONPATH": str(Path(__file__).parents[1] / "plugins")}
    reader = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert reader.returncode == 0, reader.stderr
    seen = json.loads(reader.stdout)
    assert seen["state"] == "succeeded"
    assert len(seen["ids"]) == len(set(seen["ids"]))
    assert [str(i) for i in range(16)] == [i for i in seen["ids"] if i.isdigit()]
    # this process sees the same log the other one stored
    assert [e.id for e in job.events()] == seen["ids"]


def test_validate_accepts_formats_the_provider_converts_on_upload():
    from ftkit.testing import preference_examples

    # TRL preference rows are not OpenAI's upload format, but start() converts them, so the job accepts them
    dpo = FineTuneJob(provider="openai", model="gpt-4o-mini-2024-07-18", train=preference_examples(12), method="dpo")
    assert "format_not_accepted" not in {i.code for i in dpo.validate().issues}
    # raw text cannot become OpenAI chat rows: refused before anything is uploaded
    text = [{"text": f"a plain sentence number {i} about colours"} for i in range(12)]
    job = FineTuneJob(provider="openai", model="gpt-4o-mini-2024-07-18", train=text)
    assert "format_not_accepted" in {i.code for i in job.validate().errors}


def test_polling_backs_off_while_quiet_and_resets_on_progress(monkeypatch):
    from ftkit._polling import Backoff

    slept: list[float] = []
    monkeypatch.setattr("ftkit._polling.time.sleep", slept.append)
    backoff = Backoff(1.0, 3.0)
    for progressed in (False, False, False, False, True, False):
        backoff.sleep(progressed=progressed)
    assert slept == [1.5, 2.25, 3.0, 3.0, 1.0, 1.5]
