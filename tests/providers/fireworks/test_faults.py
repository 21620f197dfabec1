"""Faults on every endpoint a Fireworks job touches still end in one succeeded job, one upload, and no
deployment left running.

Each case scripts one misbehaviour on the first request to one endpoint (a 429 with Retry-After, a 500,
a dropped connection; for writes also "the server did it but the answer was lost") and runs the whole
user path with the real ``fireworks-ai`` client: start, wait, deploy, generate, delete, download. The
emulator's own records are the judge.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ftkit.providers.fireworks.testing import FireworksServer

from ftkit.deployment import serving
from ftkit.job import FineTuneJob
from ftkit.types import JobState
from tests.providers.fireworks.conftest import job_kwargs

A = "/v1/accounts/{account}"
#: every endpoint of a job's life, in the order a job meets them
ENDPOINTS = [
    ("GET", f"{A}/datasets/{{dataset}}"),
    ("POST", f"{A}/datasets"),
    ("POST", f"{A}/datasets/{{dataset}}:upload"),
    ("GET", f"{A}/supervisedFineTuningJobs/{{job}}"),
    ("POST", f"{A}/supervisedFineTuningJobs"),
    ("GET", "/_signed/metrics/{job}/{file}"),
    ("POST", f"{A}/deployments"),
    ("GET", f"{A}/deployments/{{deployment}}"),
    ("POST", "/v1/chat/completions"),
    ("DELETE", f"{A}/deployments/{{deployment}}"),
    ("GET", f"{A}/models/{{model}}:getDownloadEndpoint"),
    ("GET", "/_signed/models/{model}/{file}"),
]
FAULTS = {
    "429": {"status": 429, "retry_after": 0.01},
    "500": {"status": 500},
    "drop": {"drop": True},
}
#: writes whose effect may happen although the client sees an error
LOST_ANSWERS = [
    ("POST", f"{A}/datasets"),
    ("POST", f"{A}/datasets/{{dataset}}:upload"),
    ("POST", f"{A}/supervisedFineTuningJobs"),
    ("POST", f"{A}/deployments"),
    ("DELETE", f"{A}/deployments/{{deployment}}"),
]


def run_whole_job(server: FireworksServer, tmp_path: Path) -> FineTuneJob:
    job = FineTuneJob(**job_kwargs(server))
    job.start()
    model = job.wait(timeout=30)
    assert list(job.events())
    with serving(model, store=job.store) as served:
        answers = served.generate(["What colour is snow?"], max_new_tokens=4)
    assert answers[0].text == "white"
    adapter = job.provider.download(model, tmp_path / "adapter")
    assert (adapter / "adapter_config.json").is_file()
    return job


def assert_exactly_once(server: FireworksServer, job: FineTuneJob) -> None:
    assert job.status().state is JobState.SUCCEEDED
    assert len(server.uploads) == 1, server.uploads
    assert len(server.created_jobs) == 1, server.created_jobs
    assert len(server.created_deployments) == 1, server.created_deployments
    assert server.live_deployments() == [], "a deployment was left running"
    assert not server.faults.pending(), "the scripted fault never fired"


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=[f"{m} {p}" for m, p in ENDPOINTS])
def test_first_attempt_fails_job_still_succeeds_exactly_once(
    server: FireworksServer, tmp_path: Path, method: str, path: str, fault: str
) -> None:
    server.faults.add(method, path, **FAULTS[fault])
    job = run_whole_job(server, tmp_path)
    assert_exactly_once(server, job)


@pytest.mark.parametrize("fault", ["500", "drop"])
@pytest.mark.parametrize(("method", "path"), LOST_ANSWERS, ids=[f"{m} {p}" for m, p in LOST_ANSWERS])
def test_lost_answer_after_the_write_is_not_repeated(
    server: FireworksServer, tmp_path: Path, method: str, path: str, fault: str
) -> None:
    server.faults.add(method, path, process=True, **FAULTS[fault])
    job = run_whole_job(server, tmp_path)
    assert_exactly_once(server, job)


def test_a_second_start_after_a_crash_reuses_the_dataset(server: FireworksServer, tmp_path: Path) -> None:
    first = FineTuneJob(**job_kwargs(server))
    first.start()
    first.wait(timeout=30)
    second = FineTuneJob(**job_kwargs(server))  # the same bytes: the content-addressed dataset is READY
    second.start()
    second.wait(timeout=30)
    assert len(server.uploads) == 1
    assert len(server.created_jobs) == 2
