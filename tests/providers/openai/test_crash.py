"""A client process killed mid-start is resumed with `FineTuneJob.attach` without duplicates.

The child process runs an ordinary ``start(); wait()``. The emulator holds one chosen request open
(a delay fault), so the test knows exactly where the child is when it kills it: no sleep races.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from ftkit.providers.openai.testing.emulator import OpenAIEmulator

from ftkit.job import FineTuneJob
from ftkit.types import JobState
from tests.providers.harness_openai import FAST_RETRIES, OPENAI_KEY
from tests.providers.openai.conftest import MODEL

pytestmark = pytest.mark.slow

CHILD = textwrap.dedent(f"""
    from ftkit.job import FineTuneJob
    from ftkit.testing.samples import colour_examples

    job = FineTuneJob(provider="openai", model={MODEL!r}, train=colour_examples(16), epochs=1, poll_interval=0.02)
    print(job.id, flush=True)
    job.start()
    job.wait(timeout=60)
""")


def start_child(server: OpenAIEmulator) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": server.base_url}
    child = subprocess.Popen([sys.executable, "-c", CHILD], env=env, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    return child, child.stdout.readline().strip()


def kill_when(server: OpenAIEmulator, child: subprocess.Popen[str], held_open) -> None:
    try:
        assert server.wait_until(held_open, timeout=30), "the child never reached the held request"
    finally:
        child.kill()
        child.wait(timeout=10)


def resume(server: OpenAIEmulator, job_id: str) -> None:
    job = FineTuneJob.attach(job_id, api_key=OPENAI_KEY, base_url=server.base_url, poll_interval=0.02,
                             retry_policy=FAST_RETRIES)
    job.wait(timeout=30)
    assert job.status().state is JobState.SUCCEEDED
    assert len(server.uploads) == 1, server.uploads
    assert len(server.jobs_created) == 1, server.jobs_created


def test_killed_between_upload_and_create(emulator: OpenAIEmulator) -> None:
    # hold the look-up ftkit makes right before creating the job
    emulator.faults.add("GET", "/v1/fine_tuning/jobs", delay=5)
    child, job_id = start_child(emulator)
    kill_when(emulator, child, lambda: len(emulator.uploads) == 1 and emulator.in_flight == 1)
    assert emulator.jobs_created == []
    resume(emulator, job_id)


def test_killed_after_the_server_created_the_job_but_before_the_answer(emulator: OpenAIEmulator) -> None:
    emulator.faults.add("POST", "/v1/fine_tuning/jobs", delay=5, process=True)
    child, job_id = start_child(emulator)
    kill_when(emulator, child, lambda: len(emulator.jobs_created) == 1)
    resume(emulator, job_id)  # adopts the job by its ftkit_job_id metadata


def test_killed_between_create_and_the_first_poll(emulator: OpenAIEmulator) -> None:
    emulator.faults.add("GET", "/v1/fine_tuning/jobs/{id}", delay=5)
    child, job_id = start_child(emulator)
    kill_when(emulator, child, lambda: len(emulator.jobs_created) == 1 and emulator.in_flight == 1)
    resume(emulator, job_id)
