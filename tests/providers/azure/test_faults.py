"""Faults on every endpoint an Azure OpenAI job touches still end in one succeeded job, one upload, and
no deployment left running.

Each case scripts one misbehaviour on the first request to one endpoint (a 429 with Retry-After, a 500,
a dropped connection; for writes also "the server did it but the answer was lost") and runs the whole
user path with the real ``openai.AzureOpenAI`` client: start, wait, events, deploy (ARM), generate through
the deployment, delete. The emulator's own records are the judge.
"""

from __future__ import annotations

import pytest
from ftkit.providers.azure.testing import AzureOpenAIServer

from ftkit.deployment import serving
from ftkit.job import FineTuneJob
from ftkit.types import JobState
from tests.providers.azure.conftest import job_kwargs

ARM = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.CognitiveServices/accounts/{account}/deployments/{name}"
#: every endpoint of a job's life, in the order a job meets them
ENDPOINTS = [
    ("GET", "/openai/models/{model}"),
    ("GET", "/openai/files"),
    ("POST", "/openai/files"),
    ("GET", "/openai/fine_tuning/jobs"),
    ("POST", "/openai/fine_tuning/jobs"),
    ("GET", "/openai/fine_tuning/jobs/{job_id}"),
    ("GET", "/openai/fine_tuning/jobs/{job_id}/events"),
    ("GET", "/openai/fine_tuning/jobs/{job_id}/checkpoints"),
    ("GET", "/openai/files/{file_id}/content"),
    ("PUT", ARM),
    ("GET", ARM),
    ("POST", "/openai/deployments/{deployment}/chat/completions"),
    ("DELETE", ARM),
]
FAULTS = {
    "429": {"status": 429, "retry_after": 0.01},
    "500": {"status": 500},
    "drop": {"drop": True},
}
#: writes whose effect may happen although the client sees an error
LOST_ANSWERS = [
    ("POST", "/openai/files"),
    ("POST", "/openai/fine_tuning/jobs"),
    ("PUT", ARM),
    ("DELETE", ARM),
]


def run_whole_job(server: AzureOpenAIServer) -> FineTuneJob:
    job = FineTuneJob(**job_kwargs(server))
    job.start()
    model = job.wait(timeout=30)
    assert list(job.events())
    assert job.result().model_id.startswith("gpt-4o-mini-2024-07-18.ft-")
    with serving(model, store=job.store) as served:
        answers = served.generate(["What colour is snow?"], max_new_tokens=4)
    assert answers[0].text == "white"
    return job


def assert_exactly_once(server: AzureOpenAIServer, job: FineTuneJob) -> None:
    assert job.status().state is JobState.SUCCEEDED
    assert len(server.uploads) == 1, server.uploads
    assert len(server.jobs_created) == 1, server.jobs_created
    assert len(server.created_deployments) == 1, server.created_deployments
    assert server.live_deployments() == [], "a deployment was left running"
    assert not server.faults.pending(), "the scripted fault never fired"


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=[f"{m} {p[:40]}" for m, p in ENDPOINTS])
def test_first_attempt_fails_job_still_succeeds_exactly_once(
    server: AzureOpenAIServer, method: str, path: str, fault: str
) -> None:
    server.faults.add(method, path, **FAULTS[fault])
    job = run_whole_job(server)
    assert_exactly_once(server, job)


@pytest.mark.parametrize("fault", ["500", "drop"])
@pytest.mark.parametrize(("method", "path"), LOST_ANSWERS, ids=[f"{m} {p[:40]}" for m, p in LOST_ANSWERS])
def test_lost_answer_after_the_write_is_not_repeated(
    server: AzureOpenAIServer, method: str, path: str, fault: str
) -> None:
    server.faults.add(method, path, process=True, **FAULTS[fault])
    job = run_whole_job(server)
    assert_exactly_once(server, job)
