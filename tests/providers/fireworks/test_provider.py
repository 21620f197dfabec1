"""The Fireworks provider's own behaviour (what the conformance suite does not cover), with the real
``fireworks-ai`` client against the emulator: resume, metrics, deployments, downloads, estimates, and the
emulator refusing what Fireworks refuses."""

from __future__ import annotations

import json
from pathlib import Path

import fireworks
import pytest
from ftkit.providers.fireworks._status import STATES, map_state
from ftkit.providers.fireworks.testing import FireworksServer

from ftkit.errors import ConfigError, DatasetError, JobStateError, UnsupportedSettingError
from ftkit.registry import create_provider
from ftkit.testing.samples import colour_examples
from ftkit.types import JobState
from tests.providers.fireworks.conftest import job_kwargs


def sdk_client(server: FireworksServer) -> fireworks.Fireworks:
    return fireworks.Fireworks(api_key=server.api_key, account_id=server.account_id, base_url=server.base_url,
                               max_retries=0)  # fmt: skip


def test_every_sdk_job_state_is_mapped() -> None:
    literal = fireworks.types.SupervisedFineTuningJob.model_fields["state"].annotation
    states = set(literal.__args__[0].__args__)  # Optional[Literal[...]]
    assert states == set(STATES)
    assert map_state("JOB_STATE_PAUSED") is JobState.PAUSED and not map_state("JOB_STATE_PAUSED").is_terminal


def test_a_paused_job_resumes_and_finishes(server: FireworksServer, make_job) -> None:
    job = make_job(epochs=30)
    job.start()
    server.pause_job(job.status().remote_id)
    assert job.status().state is JobState.PAUSED
    assert job.resume().state is JobState.RUNNING
    assert job.wait(timeout=60).model_id.endswith(job.id)


def test_resume_of_a_running_job_is_refused(make_job) -> None:
    job = make_job(epochs=30)
    job.start()
    with pytest.raises(JobStateError, match="resumes only"):
        job.resume()
    job.cancel()


def test_metrics_become_step_events_and_final_metrics(make_job) -> None:
    job = make_job()
    job.start()
    model = job.wait(timeout=30)
    steps = [e for e in job.events() if e.type == "metrics"]
    assert steps and all("train_loss" in e.metrics for e in steps)
    assert [e.step for e in steps] == sorted(e.step for e in steps)
    assert model.metrics["train_loss"] == steps[-1].metrics["train_loss"]
    assert job.status().trained_tokens and job.status().cost_usd is not None


def test_a_fine_tune_answers_only_through_its_deployment(server: FireworksServer, make_job) -> None:
    job = make_job()
    job.start()
    model = job.wait(timeout=30)
    client = sdk_client(server)
    messages = [{"role": "user", "content": "What colour is snow?"}]
    with pytest.raises(fireworks.NotFoundError, match="not deployed"):
        client.chat.completions.create(model=model.model_id, messages=messages)
    server.deploy_seconds = 1e6  # stays CREATING until the clock is pushed past it
    deployment = model.deploy(store=job.store, min_replica_count=1)
    try:
        assert deployment.serving_id and deployment.serving_id.startswith(f"{model.model_id}#accounts/")
        with pytest.raises(fireworks.BadRequestError, match="not READY"):
            client.chat.completions.create(model=deployment.serving_id, messages=messages)
        server.clock.advance(2e6)
        deployment.wait_ready(poll_interval=0.02, timeout=30)
        assert deployment.price_per_hour == 7.0  # one H100 replica, from the catalog
        assert deployment.model.generate(["What colour is grass?"])[0].text == "green"
    finally:
        deployment.delete()
    assert server.live_deployments() == []


def test_deployment_price_scales_with_gpus_and_replicas(make_job) -> None:
    provider = create_provider("fireworks", api_key="fw-x", account_id="acme")
    from ftkit.model import TrainedModel

    model = TrainedModel(provider="fireworks", model_id="accounts/acme/models/m", job_id="ftk-1",
                         base_model="accounts/fireworks/models/llama-v3p1-8b-instruct")  # fmt: skip
    assert provider.deployment_price(model, {}) == 7.0
    assert provider.deployment_price(model, {"accelerator_count": 2, "min_replica_count": 2}) == 28.0
    assert provider.deployment_price(model, {"accelerator_type": "AMD_MI300X_192GB"}) is None
    with pytest.raises(ConfigError, match="deployments take"):
        provider.deployment_price(model, {"gpus": 2})


def test_download_never_writes_into_a_folder_with_files(make_job, tmp_path: Path) -> None:
    job = make_job()
    job.start()
    model = job.wait(timeout=30)
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "mine.txt").write_text("user data")
    with pytest.raises(ConfigError, match="not an empty folder"):
        job.provider.download(model, taken)
    assert (taken / "mine.txt").read_text() == "user data"
    adapter = job.provider.download(model, tmp_path / "adapter")
    assert json.loads((adapter / "adapter_config.json").read_text())["peft_type"] == "LORA"
    assert model.adapter_path == str(adapter)


def test_settings_fireworks_cannot_honour_are_refused_before_upload(server: FireworksServer, make_job) -> None:
    for setting in ({"seed": 1}, {"lora_r": 12}, {"adapter": "full"}):
        with pytest.raises(UnsupportedSettingError):
            make_job(**setting)
    assert server.uploads == []


def test_the_service_refuses_a_model_it_cannot_tune(server: FireworksServer, make_job) -> None:
    job = make_job(model="accounts/fireworks/models/not-a-tunable-model")
    with pytest.raises(UnsupportedSettingError, match="not tunable"):
        job.start()
    assert server.created_jobs == []


def test_the_emulator_refuses_bad_datasets_and_two_jobs_with_one_id(server: FireworksServer, tmp_path: Path) -> None:
    client = sdk_client(server)
    client.datasets.create(dataset_id="tiny", dataset={"user_uploaded": {}, "example_count": "2"})
    rows = colour_examples(2)
    with pytest.raises(fireworks.BadRequestError, match="at least 3"):
        client.datasets.upload("tiny", file=("t.jsonl", "\n".join(json.dumps(r) for r in rows).encode()))
    client.datasets.create(dataset_id="ok", dataset={"user_uploaded": {}, "example_count": "3"})
    bad = [*colour_examples(2), {"messages": [{"role": "user", "content": "hi"}, {"role": "system", "content": "x"},
                                              {"role": "assistant", "content": "y"}]}]  # fmt: skip
    with pytest.raises(fireworks.BadRequestError, match="system message must be the first"):
        client.datasets.upload("ok", file=("t.jsonl", "\n".join(json.dumps(r) for r in bad).encode()))
    with pytest.raises(fireworks.BadRequestError, match="not READY"):
        client.supervised_fine_tuning_jobs.create(dataset=f"accounts/{server.account_id}/datasets/ok",
                                                  base_model=server.base_model)  # fmt: skip
    good = colour_examples(3)
    client.datasets.upload("ok", file=("t.jsonl", "\n".join(json.dumps(r) for r in good).encode()))
    body = {"dataset": f"accounts/{server.account_id}/datasets/ok", "base_model": server.base_model}
    client.supervised_fine_tuning_jobs.create(supervised_fine_tuning_job_id="one", **body)
    with pytest.raises(fireworks.ConflictError):
        client.supervised_fine_tuning_jobs.create(supervised_fine_tuning_job_id="one", **body)


def test_bad_data_is_refused_locally_with_fireworks_rules(make_job) -> None:
    job = make_job(train=colour_examples(2))
    with pytest.raises(DatasetError):
        job.start()


def test_a_missing_account_says_where_to_find_it(server: FireworksServer, monkeypatch) -> None:
    monkeypatch.delenv("FIREWORKS_ACCOUNT_ID", raising=False)
    kwargs = job_kwargs(server)
    kwargs.pop("account_id")
    from ftkit.job import FineTuneJob

    with pytest.raises(ConfigError, match="FIREWORKS_ACCOUNT_ID"):
        FineTuneJob(**kwargs).start()


def test_estimate_prices_tokens_by_size_bracket_and_names_hosting(make_job) -> None:
    estimate = make_job(epochs=3).estimate()
    assert estimate.billed_tokens == 3 * estimate.tokens.total_tokens
    assert estimate.cost_usd == pytest.approx(estimate.billed_tokens / 1e6 * 0.50, abs=1e-4)
    assert "fireworks.ai/pricing" in (estimate.price_source or "")
    assert any("on-demand deployment" in a and "$7.00/hour" in a for a in estimate.assumptions)
    big = make_job(model="llama-v3p1-70b-instruct", epochs=1).estimate()
    assert big.cost_usd == pytest.approx(big.billed_tokens / 1e6 * 3.00, abs=1e-4)


def test_dpo_runs_through_dpo_jobs_with_preference_rows(server: FireworksServer, make_job) -> None:
    from ftkit.testing.samples import preference_examples

    job = make_job(train=preference_examples(8), method="dpo", options={"beta": 0.2})
    job.start()
    model = job.wait(timeout=30)
    created = server.created_jobs[-1]
    assert created["method"] == "dpo"
    body = server.requests_to("POST", "/v1/accounts/{account}/dpoJobs")[-1].body
    assert body["lossConfig"] == {"method": "DPO", "klBeta": 0.2}
    assert body["trainingConfig"]["baseModel"] == server.base_model
    assert model.model_id == created["output_model"] and model.info["method"] == "dpo"
    assert any(e.type == "metrics" for e in job.events())  # from getMetricsFileEndpoint
    assert job.status().raw_status == "JOB_STATE_COMPLETED"


def test_dpo_settings_fireworks_does_not_take_are_refused(make_job) -> None:
    from ftkit.testing.samples import preference_examples

    rows = preference_examples(8)
    with pytest.raises(UnsupportedSettingError, match="no evaluation dataset"):
        make_job(train=rows, validation=rows, method="dpo")
    with pytest.raises(UnsupportedSettingError, match="beta"):
        make_job(options={"beta": 0.1})


def test_a_late_system_message_is_refused_locally_before_upload(server: FireworksServer, make_job) -> None:
    rows = colour_examples(4)
    rows[2] = {"messages": [*rows[2]["messages"][:2], {"role": "system", "content": "late"},
                            rows[2]["messages"][-1]]}  # fmt: skip
    job = make_job(train=rows)
    report = job.validate()
    assert "system_not_first" in [i.code for i in report.errors]
    with pytest.raises(DatasetError):
        job.start()
    assert server.uploads == []


def test_more_examples_than_fireworks_takes_are_refused(monkeypatch, make_job) -> None:
    from ftkit.providers.fireworks import provider as module

    monkeypatch.setattr(module, "MAX_EXAMPLES", 10)  # 3,000,000 rows would make a slow test
    report = make_job().validate()
    assert [i.code for i in report.errors] == ["fireworks_too_many_examples"]
