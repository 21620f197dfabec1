"""The whole migration onto a managed target: OpenAI (emulator, job made with the plain SDK) to Together (emulator),
through the real SDKs. The retrained job is created once, the replacement is served through a deployment made for
the evaluation and deleted after it, and the report carries serving prices per 1M tokens and per 1,000 examples."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ftkit.migration import migrate
from tests.migration.conftest import RemoteJob
from tests.providers.harness_together import MODEL, connection, fast_server


@pytest.fixture
def together() -> Iterator[object]:
    with fast_server() as server:
        yield server


def test_openai_to_together_end_to_end_and_again(remote_job: RemoteJob, together, tmp_path: Path) -> None:
    out = tmp_path / "migration"
    kwargs = {"targets": [f"together:{MODEL}"], "out": out, "provider": "openai",
              "target_connection": {"together": connection(together)}, **remote_job.data(),
              **remote_job.connection()}
    report = migrate(remote_job.job_id, **kwargs)
    target = report.targets[0]
    assert target.state == "succeeded" and target.model_id
    assert target.deployment_price_per_hour > 0 and target.cost_per_1k_examples_usd is not None  # billed hourly
    assert report.source.cost_per_1k_examples_usd is not None and report.source.training_cost_usd > 0
    assert target.training_cost_usd is not None and target.agreement is not None
    assert target.verdict.startswith(("switch:", "keep looking:"))
    epochs = next(t for t in target.translations if t.setting == "epochs")
    assert len(together.created_jobs) == 1
    assert together.created_jobs[0]["request"]["n_epochs"] == epochs.target  # what OpenAI ran, sent to Together
    created = together.recorded("deployment_created")
    assert created and len(together.recorded("deployment_deleted")) == len(created)  # nothing left running
    saved = json.loads((out / "report.json").read_text())
    assert saved["targets"][0]["verdict"] == target.verdict

    calls = len(remote_job.chat_calls())
    again = migrate(remote_job.job_id, **kwargs)  # a rerun: no second job, no new call of the OpenAI fine-tune
    assert len(together.created_jobs) == 1 and len(remote_job.chat_calls()) == calls
    assert again.targets[0].job_id == target.job_id
