"""Faults on every endpoint a Together job touches still end in one succeeded job, one upload per file.

Each case scripts one misbehaviour on the first request to one endpoint (a 429 with Retry-After, a
500, a dropped connection; for writes also "the server did it but the answer was lost") and runs the
whole user path: start, wait, deploy, generate through the deployment, delete it, download. The emulator's
own records are the judge: one upload per file, one job, one deployment, nothing left running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from ftkit.providers.together.testing.emulator import TogetherServer

from ftkit.job import FineTuneJob
from ftkit.types import JobState
from tests.providers.together.conftest import job_kwargs

#: every endpoint of a job's life, in the order a job meets them
ENDPOINTS = [
    ("GET", "/v1/fine-tunes/models/limits"),
    ("POST", "/v1/files"),
    ("PUT", "/_storage/{file_id}"),
    ("POST", "/v1/files/{file_id}/preprocess"),
    ("GET", "/v1/files/{file_id}"),
    ("GET", "/v1/fine-tunes"),
    ("POST", "/v1/fine-tunes/estimate-price"),
    ("POST", "/v1/fine-tunes"),
    ("GET", "/v1/fine-tunes/{job_id}"),
    ("GET", "/v1/fine-tunes/{job_id}/events"),
    ("GET", "/v1/fine-tunes/{job_id}/checkpoints"),
    ("GET", "/v1/fine-tunes/{job_id}/metrics"),
    ("GET", "/v3/whoami"),
    ("GET", "/v2/projects/{pid}/models/{model_id}"),
    ("GET", "/v2/projects/{pid}/configs"),
    ("GET", "/v2/projects/{pid}/endpoints"),
    ("POST", "/v2/projects/{pid}/endpoints"),
    ("GET", "/v2/projects/{pid}/endpoints/{eid}/deployments"),
    ("POST", "/v2/projects/{pid}/endpoints/{eid}/deployments"),
    ("PATCH", "/v2/projects/{pid}/endpoints/{eid}"),
    ("GET", "/v2/projects/{pid}/endpoints/{eid}/deployments/{did}"),
    ("POST", "/v1/chat/completions"),
    ("PATCH", "/v2/projects/{pid}/endpoints/{eid}/deployments/{did}"),
    ("DELETE", "/v2/projects/{pid}/endpoints/{eid}/deployments/{did}"),
    ("DELETE", "/v2/projects/{pid}/endpoints/{eid}"),
    ("GET", "/v1/finetune/download"),
]
FAULTS = {
    "429": {"status": 429, "retry_after": 0.01},
    "500": {"status": 500},
    "drop": {"drop": True},
}
#: writes whose effect may happen although the client sees an error
LOST_ANSWERS = [
    ("POST", "/v1/files/{file_id}/preprocess"),
    ("PUT", "/_storage/{file_id}"),
    ("POST", "/v1/fine-tunes"),
    ("POST", "/v2/projects/{pid}/endpoints"),
    ("POST", "/v2/projects/{pid}/endpoints/{eid}/deployments"),
    ("PATCH", "/v2/projects/{pid}/endpoints/{eid}/deployments/{did}"),
    ("DELETE", "/v2/projects/{pid}/endpoints/{eid}/deployments/{did}"),
    ("DELETE", "/v2/projects/{pid}/endpoints/{eid}"),
]


def run_whole_job(server: TogetherServer, tmp_path: Path) -> FineTuneJob:
    job = FineTuneJob(**job_kwargs(server))
    job.start()
    model = job.wait(timeout=30)
    assert model.metrics.get("train_loss") is not None, "metrics from GET /v1/fine-tunes/{id}/metrics"
    with model.deploy() as deployment:
        deployment.wait_ready(poll_interval=0.02, timeout=30)
        answers = deployment.model.generate(["What colour is snow?"], max_new_tokens=4)
    assert answers[0].text
    weights = job.provider.download(model, kind="adapter", dest=tmp_path / "adapter")
    assert (weights / "adapter_config.json").is_file()
    return job


def assert_exactly_once(server: TogetherServer, job: FineTuneJob) -> None:
    assert job.status().state is JobState.SUCCEEDED
    assert len(server.uploads) == 1, server.uploads
    assert len(server.created_jobs) == 1, server.created_jobs
    assert len(server.created_deployments) == 1, server.created_deployments
    assert server.running_deployments == [] and server.live_endpoints == [], "a paid deployment was left behind"
    assert not server.faults.pending(), "the scripted fault never fired"


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=[f"{m} {p}" for m, p in ENDPOINTS])
def test_first_attempt_fails_job_still_succeeds_exactly_once(
    server: TogetherServer, tmp_path: Path, method: str, path: str, fault: str
) -> None:
    server.faults.add(method, path, **FAULTS[fault])
    job = run_whole_job(server, tmp_path)
    assert_exactly_once(server, job)


@pytest.mark.parametrize("fault", ["500", "drop"])
@pytest.mark.parametrize(("method", "path"), LOST_ANSWERS, ids=[f"{m} {p}" for m, p in LOST_ANSWERS])
def test_lost_answer_after_the_server_acted_is_reconciled(
    server: TogetherServer, tmp_path: Path, method: str, path: str, fault: str
) -> None:
    server.faults.add(method, path, process=True, **FAULTS[fault])
    job = run_whole_job(server, tmp_path)
    assert_exactly_once(server, job)


def test_create_is_never_retried_blindly(server: TogetherServer, tmp_path: Path) -> None:
    """A create that timed out on the client but made the job is adopted, not repeated: the job list
    is read before every new create."""
    server.faults.add("POST", "/v1/fine-tunes", drop=True, process=True)
    job = run_whole_job(server, tmp_path)
    creates = server.requests_to("POST", "/v1/fine-tunes")
    assert len(creates) == 1, "the lost create was adopted from the job list instead of being sent again"
    assert job.record.remote_id == server.created_jobs[0]["job_id"]


# -- a client process killed mid-start, then resumed with attach -------------------------------------------

_CHILD = textwrap.dedent(
    """
    import sys
    from ftkit.job import FineTuneJob
    from ftkit.testing.samples import colour_examples
    from tests.providers.harness_together import FAST_RETRIES

    job = FineTuneJob(provider="together", model="Qwen/Qwen3-8B", train=colour_examples(16), epochs=1,
                      api_key=sys.argv[1], base_url=sys.argv[2], poll_interval=0.02, retry_policy=FAST_RETRIES)
    print(job.id, flush=True)
    job.start()
    print("started", flush=True)
    """
)


def kill_child_at(server: TogetherServer, method: str, path: str, tmp_path: Path) -> str:
    """Run a client that starts a job; SIGKILL it while the server holds ``method path``; return the job id.

    The request is held (a slow answer) until the client is dead, then the server finishes it, as a
    real server would after a client vanished.
    """
    fault = server.faults.add(method, path, delay=1.0)
    repo = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": f"{repo}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, server.api_key, server.base_url],
        stdout=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        job_id = child.stdout.readline().strip()
        assert job_id.startswith("ftk-"), job_id
        assert server.wait_until(lambda: fault.hits > 0, timeout=60), "the client never reached the endpoint"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    # let the held request finish server-side before anyone looks (a create then exists)
    assert server.wait_until(lambda: bool(server.requests_to(method, path)), timeout=10)
    return job_id


@pytest.mark.slow
@pytest.mark.parametrize(
    ("method", "path", "where"),
    [
        ("GET", "/v1/fine-tunes", "between upload and create"),
        ("POST", "/v1/fine-tunes", "between create and the first poll"),
    ],
)
def test_killed_client_is_resumed_by_attach_without_duplicates(
    server: TogetherServer, tmp_path: Path, method: str, path: str, where: str
) -> None:
    job_id = kill_child_at(server, method, path, tmp_path)
    assert len(server.uploads) == 1, f"the upload happened before the kill ({where})"

    job = FineTuneJob.attach(job_id, api_key=server.api_key, base_url=server.base_url, poll_interval=0.02)
    model = job.wait(timeout=30)
    assert model.model_id
    assert len(server.uploads) == 1
    assert len(server.created_jobs) == 1, server.created_jobs
    assert job.record.remote_id == server.created_jobs[0]["job_id"]
