"""Faults on every endpoint still end in one succeeded job, one upload per file and one remote job.

Each case scripts one fault on the first request to one endpoint of the emulator, runs a whole job
through `FineTuneJob` (start, wait, events, result, generate) with the real SDK client, and checks
the emulator's own records. ``process=True`` cases are the ambiguous ones: the server did the work
but the client never heard, which is exactly where a blind retry would upload or create twice.
"""

from __future__ import annotations

import pytest
from ftkit.providers.openai.testing.emulator import OpenAIEmulator

from ftkit.errors import ProviderConnectionError, ProviderError, RateLimitError
from ftkit.types import JobState

#: (method, path) of every call a job makes, in the order it makes them
ENDPOINTS = [
    ("GET", "/v1/models/{id}"),  # the model's shutdown_date, before anything is uploaded
    ("GET", "/v1/files"),  # looking for an upload ftkit never heard back about
    ("POST", "/v1/files"),  # the upload
    ("GET", "/v1/fine_tuning/jobs"),  # looking for a job ftkit never heard back about
    ("POST", "/v1/fine_tuning/jobs"),  # the create
    ("GET", "/v1/fine_tuning/jobs/{id}"),  # status
    ("GET", "/v1/fine_tuning/jobs/{id}/events"),
    ("GET", "/v1/files/{id}/content"),  # the result CSV
    ("GET", "/v1/fine_tuning/jobs/{id}/checkpoints"),
    ("POST", "/v1/chat/completions"),  # generate
]

FAULTS = {
    "429-retry-after": {"status": 429, "retry_after": 0.05},
    "500": {"status": 500},
    "dropped": {"drop": True},
}


def run_job(make_job) -> None:
    job = make_job()
    job.start()
    model = job.wait(timeout=30)
    assert job.status().state is JobState.SUCCEEDED
    assert list(job.events())
    assert model.generate(["What colour is snow?"], max_new_tokens=4)[0].text


def assert_exactly_once(emulator: OpenAIEmulator) -> None:
    assert not emulator.faults.pending(), "the scripted fault never fired"
    assert len(emulator.uploads) == 1, emulator.uploads
    assert len(emulator.jobs_created) == 1, emulator.jobs_created


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=[f"{m} {p}" for m, p in ENDPOINTS])
def test_a_fault_on_the_first_attempt_is_survived(
    emulator: OpenAIEmulator, make_job, method: str, path: str, fault: str
) -> None:
    emulator.faults.add(method, path, **FAULTS[fault])
    run_job(make_job)
    assert_exactly_once(emulator)


@pytest.mark.parametrize("fault", ["500", "dropped"])
@pytest.mark.parametrize(("method", "path"), [("POST", "/v1/files"), ("POST", "/v1/fine_tuning/jobs")],
                         ids=["upload", "create"])
def test_work_done_but_answer_lost_is_not_done_twice(
    emulator: OpenAIEmulator, make_job, method: str, path: str, fault: str
) -> None:
    emulator.faults.add(method, path, process=True, **FAULTS[fault])
    run_job(make_job)
    assert_exactly_once(emulator)
    # the lost one was adopted by listing, not made again
    assert len(emulator.requests_to(method, path)) == 1


def test_a_slow_answer_is_waited_for(emulator: OpenAIEmulator, make_job) -> None:
    emulator.faults.add("GET", "/v1/fine_tuning/jobs/{id}", delay=0.3)
    run_job(make_job)
    assert_exactly_once(emulator)


def test_a_timed_out_create_is_reconciled(emulator: OpenAIEmulator, make_job) -> None:
    # the server creates the job but answers after the client's timeout
    emulator.faults.add("POST", "/v1/fine_tuning/jobs", delay=1.0, process=True)
    run_job(lambda: make_job(timeout=0.5))
    assert_exactly_once(emulator)


@pytest.mark.parametrize(
    ("fault", "error", "retry_after"),
    [({"status": 429, "retry_after": 0.01}, RateLimitError, 0.01), ({"status": 503}, ProviderError, None),
     ({"drop": True}, ProviderConnectionError, None)],
)
def test_persistent_faults_end_in_ftkit_errors_with_the_details(
    emulator: OpenAIEmulator, make_job, fault: dict, error: type, retry_after: float | None
) -> None:
    job = make_job()
    job.start()
    emulator.faults.add("GET", "/v1/fine_tuning/jobs/{id}", times=None, **fault)
    with pytest.raises(error) as info:
        job.status()
    if "status" in fault:
        assert info.value.status_code == fault["status"]
        assert info.value.request_id and info.value.request_id.startswith("req_")
    if retry_after is not None:
        assert info.value.retry_after == retry_after
    assert len(emulator.requests_to("GET", "/v1/fine_tuning/jobs/{id}")) == 5  # FAST_RETRIES.attempts
