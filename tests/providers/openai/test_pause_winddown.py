"""Pause/resume and the wind-down, through `FineTuneJob` with the real ``openai`` client against the emulator.

A paused job never ends by itself, so ``wait()`` must hand control back at once; pause and resume are
POSTs, so faults on them (429 with Retry-After, 500, a dropped connection, also after the server acted)
must still leave exactly one pause and one resume on OpenAI's side. A create OpenAI refuses for good (the
wind-down's 403) must name the way on and leave no uploaded file behind.
"""

from __future__ import annotations

import time

import pytest
from ftkit.providers.openai.testing.emulator import OpenAIEmulator

from ftkit.errors import ConfigError, JobCreationClosedError, JobPausedError
from ftkit.job import FineTuneJob
from ftkit.types import JobState
from tests.providers.openai.test_faults import FAULTS

#: a job long enough (16 examples x 20 epochs = 320 steps, ~1 s of wall time) to be paused while it runs
LONG = {"epochs": 20}


def running(job: FineTuneJob, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while job.status().state is not JobState.RUNNING:
        assert time.monotonic() < deadline, job.status()
        time.sleep(0.01)


def test_wait_on_a_paused_job_returns_within_one_poll_and_says_how_to_resume(
        emulator: OpenAIEmulator, make_job) -> None:
    job = make_job(**LONG)
    job.start()
    running(job)
    paused = job.pause()
    assert paused.state is JobState.PAUSED and paused.raw_status in ("pausing", "paused")
    polls_before = len(emulator.requests_to("GET", "/v1/fine_tuning/jobs/{id}"))
    with pytest.raises(JobPausedError) as caught:
        job.wait(timeout=30)
    assert len(emulator.requests_to("GET", "/v1/fine_tuning/jobs/{id}")) == polls_before + 1  # one poll
    message = str(caught.value)
    assert "paused" in message and "job.resume()" in message and f"ftkit jobs resume {job.id}" in message
    # the job's clock stood still while it was paused: no step went by
    step = job.status().step
    time.sleep(0.1)
    assert job.status().state is JobState.PAUSED and job.status().step == step

    job.resume()
    model = job.wait(timeout=30)
    assert model.model_id.startswith("ft:")
    assert len(emulator.recorded("pause")) == 1 and len(emulator.recorded("resume")) == 1
    messages = [e.message for e in job.events()]
    assert "Fine-tuning job paused" in messages and "Fine-tuning job resumed" in messages
    assert len({e.id for e in job.events()}) == len(list(job.events()))


def test_events_follow_stops_at_a_pause(emulator: OpenAIEmulator, make_job) -> None:
    job = make_job(**LONG)
    job.start()
    running(job)
    job.pause()
    with pytest.raises(JobPausedError):
        for _ in job.events(follow=True):
            pass


#: every fault, before the server acts; and those after which it may have acted (a 429 means it did nothing)
FAULT_CASES = [(fault, False) for fault in sorted(FAULTS)] + [("500", True), ("dropped", True)]


@pytest.mark.parametrize(("fault", "process"), FAULT_CASES,
                         ids=[f"{f}-{'answer-lost' if p else 'refused'}" for f, p in FAULT_CASES])
@pytest.mark.parametrize("verb", ["pause", "resume"])
def test_faults_on_pause_and_resume_end_in_exactly_one_of_each(
        emulator: OpenAIEmulator, make_job, verb: str, fault: str, process: bool) -> None:
    job = make_job(**LONG)
    job.start()
    running(job)
    emulator.faults.add("POST", f"/v1/fine_tuning/jobs/{{id}}/{verb}", process=process, **FAULTS[fault])
    job.pause()
    deadline = time.monotonic() + 10
    while job.status().raw_status != "paused":  # the emulator accepts a resume once the pause has settled
        assert time.monotonic() < deadline
        time.sleep(0.01)
    job.resume()
    assert not emulator.faults.pending(), "the scripted fault never fired"
    job.wait(timeout=30)
    assert job.status().state is JobState.SUCCEEDED
    assert len(emulator.recorded("pause")) == 1 and len(emulator.recorded("resume")) == 1
    assert len(emulator.jobs_created) == 1


def test_a_create_refused_by_the_wind_down_names_the_ways_on_and_leaves_no_file(
        emulator: OpenAIEmulator, make_job) -> None:
    emulator.wind_down = True
    job = make_job()
    with pytest.raises(JobCreationClosedError) as caught:
        job.start()
    message = str(caught.value)
    for needle in ("2026-05-07", "2026-07-02", "2027-01-06", "Azure OpenAI", "provider='together'",
                   "provider='local'", "ftkit migrate", "deleted"):
        assert needle in message, needle
    assert "check the API key" not in message
    assert len(emulator.uploads) == 1 and emulator.files == {}  # uploaded, then deleted: nothing left
    assert len(emulator.requests_to("DELETE", "/v1/files/{id}")) == 1
    assert emulator.jobs_created == []
    assert job.record.provider_data.get("fresh_uploads") == []


def test_a_refused_create_deletes_the_validation_upload_too(emulator: OpenAIEmulator, make_job) -> None:
    from ftkit.testing.samples import colour_examples

    emulator.wind_down = True
    job = make_job(train=colour_examples(16), validation=colour_examples(12, seed=5))
    with pytest.raises(JobCreationClosedError):
        job.start()
    assert len(emulator.uploads) == 2 and emulator.files == {}


def test_other_403s_stay_key_problems(emulator: OpenAIEmulator, make_job) -> None:
    # only a create is the wind-down; a 403 on reading a job is about the key's permissions
    job = make_job()
    job.start()
    emulator.faults.add("GET", "/v1/fine_tuning/jobs/{id}", status=403, times=10)
    from ftkit.errors import AuthenticationError

    with pytest.raises(AuthenticationError, match="check the API key"):
        job.status()


def test_an_unknown_model_is_refused_before_anything_is_uploaded(emulator: OpenAIEmulator, make_job) -> None:
    job = make_job(model="gpt-9-imaginary-2027-01-01")
    with pytest.raises(ConfigError, match="OpenAI has no model 'gpt-9-imaginary-2027-01-01'"):
        job.start()
    assert emulator.uploads == []


def test_the_listings_shutdown_date_is_warned_about_with_days_left(emulator: OpenAIEmulator, make_job) -> None:
    job = make_job()
    job.start()
    warnings = [e.message for e in job.events() if e.type == "ftkit" and e.level == "warning"]
    assert any("model listing says gpt-4o-mini-2024-07-18 shuts down on 2027-01-14" in w and "days left" in w
               for w in warnings), warnings
    assert job.record.provider_data["model_shutdown_date"] == "2027-01-14"


def test_the_listings_date_feeds_offline_estimates_and_jobs_show(emulator: OpenAIEmulator, make_job, capsys,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import date

    from ftkit.providers.openai import _winddown

    from ftkit.cli import main

    job = make_job()
    job.start()
    # ftkit jobs show: the status carries the listing's date with the days left
    status = job.status()
    assert status.model_shutdown == date(2027, 1, 14)
    assert status.shutdown_notice(date(2026, 12, 1)) == "2027-01-14 (44 days left)"
    capsys.readouterr()
    code = main(["jobs", "show", job.id, "--api-key", emulator.api_key, "--base-url", emulator.base_url])
    shown = capsys.readouterr().out
    assert code == 0, shown
    assert "model shuts down" in shown and "2027-01-14" in shown and "days left" in shown
    # estimate (offline): the listing's word replaces the catalog's record of the same date
    estimate = job.estimate()
    listed = [w for w in estimate.warnings if "model listing says" in w]
    assert len(listed) == 1 and "listing read" in listed[0]
    assert not any("retires on 2027-01-14" in w for w in estimate.warnings)
    # a later listing that moves the date wins over the catalog
    monkeypatch.setattr(_winddown, "known_shutdown", lambda model: (date(2026, 12, 20), date(2026, 12, 1)))
    moved = job.estimate()
    assert any("shuts down on 2026-12-20" in w for w in moved.warnings)
