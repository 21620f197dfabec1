"""The Azure provider's own behaviour (what the conformance suite does not cover), with the real
``openai.AzureOpenAI`` client against the emulator: training tiers, Entra ID, the model listing,
deployment-only serving, ARM settings, tier-priced estimates, and the emulator refusing what Azure refuses."""

from __future__ import annotations

import httpx
import openai
import pytest
from ftkit.providers.azure.testing import AzureOpenAIServer

from ftkit.errors import ConfigError, UnsupportedSettingError
from ftkit.model import TrainedModel
from ftkit.registry import create_provider
from tests.providers.azure.conftest import job_kwargs


def sdk_client(server: AzureOpenAIServer) -> openai.AzureOpenAI:
    return openai.AzureOpenAI(api_key=server.api_key, azure_endpoint=server.base_url,
                              api_version="2025-04-01-preview", max_retries=0)  # fmt: skip


def test_the_training_tier_is_sent_as_training_type(server: AzureOpenAIServer, make_job) -> None:
    job = make_job(options={"training_type": "developer"})
    job.start()
    job.wait(timeout=30)
    assert list(server.training_types.values()) == ["developer"]
    default = make_job()
    default.start()
    assert sorted(server.training_types.values()) == ["developer", "standard"]


def test_a_create_without_training_type_gets_azures_misleading_error_which_ftkit_explains(
    server: AzureOpenAIServer,
) -> None:
    client = sdk_client(server)
    rows = b'{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}\n' * 10
    file = client.files.create(file=("t.jsonl", rows), purpose="fine-tune")
    with pytest.raises(openai.BadRequestError, match="does not support fine-tuning") as info:
        client.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=file.id)
    provider = create_provider("azure", **server.connection())
    from ftkit.errors import ProviderError

    explained = provider.map_error(info.value, ProviderError(info.value.message, provider="azure", status_code=400))
    assert isinstance(explained, UnsupportedSettingError) and "training_type" in str(explained)


def test_entra_id_token_provider_instead_of_a_key(monkeypatch) -> None:
    from ftkit.job import FineTuneJob
    from tests.providers.harness_azure import fast_server

    monkeypatch.delenv("AZURE_OPENAI_API_KEY", raising=False)
    with fast_server(entra_token="entra-token-0123456789abcdef") as server:
        kwargs = job_kwargs(server)
        kwargs.pop("api_key")
        job = FineTuneJob(**kwargs, azure_ad_token_provider=lambda: "entra-token-0123456789abcdef")
        job.start()
        assert job.wait(timeout=30).model_id


def test_a_model_the_resource_cannot_fine_tune_is_refused_before_upload(server: AzureOpenAIServer, make_job) -> None:
    with pytest.raises(ConfigError, match="cannot be fine-tuned on this resource"):
        make_job(model="gpt-4o-mini").start()  # the undated alias is listed, but not fine-tunable
    with pytest.raises(ConfigError, match="has no model"):
        make_job(model="gpt-9-imaginary").start()
    assert server.uploads == []


def test_a_fine_tune_answers_only_through_a_deployment(server: AzureOpenAIServer, make_job) -> None:
    job = make_job()
    job.start()
    model = job.wait(timeout=30)
    client = sdk_client(server)
    with pytest.raises(openai.NotFoundError, match="deployment"):
        client.chat.completions.create(model=model.model_id, messages=[{"role": "user", "content": "hi"}])
    with model.deploy(store=job.store, deployment_type="globalstandard", capacity=2) as deployment:
        deployment.wait_ready(poll_interval=0.02, timeout=30)
        assert deployment.price_per_hour == 1.70
        reply = client.chat.completions.create(model=deployment.serving_id,
                                               messages=[{"role": "user", "content": "What colour is grass?"}])
        assert reply.choices[0].message.content == "green"
        assert server.deployments[deployment.serving_id]["sku"] == {"name": "globalstandard", "capacity": 2}
    assert server.live_deployments() == []


def test_deployment_prices_and_settings() -> None:
    provider = create_provider("azure", api_key="k", endpoint="https://x.openai.azure.com")
    model = TrainedModel(provider="azure", model_id="gpt-4.1-mini-2025-04-14.ft-abc", job_id="ftk-1",
                         base_model="gpt-4.1-mini-2025-04-14")  # fmt: skip
    assert provider.deployment_price(model, {}) == 1.70
    assert provider.deployment_price(model, {"deployment_type": "developer"}) == 0.0
    with pytest.raises(ConfigError, match="deployment_type"):
        provider.deployment_price(model, {"deployment_type": "provisioned"})
    with pytest.raises(ConfigError, match="deployments take"):
        provider.deployment_price(model, {"replicas": 2})


def test_deploying_without_the_resource_coordinates_says_what_is_missing(server: AzureOpenAIServer, make_job,
                                                                         monkeypatch) -> None:
    for name in ("AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_GROUP", "AZURE_OPENAI_RESOURCE"):
        monkeypatch.delenv(name, raising=False)
    job = make_job()
    job.start()
    model = job.wait(timeout=30)
    provider = create_provider("azure", api_key=server.api_key, endpoint=server.base_url)
    with pytest.raises(ConfigError, match="AZURE_SUBSCRIPTION_ID"):
        model.bind(provider).deploy(store=job.store)
    assert server.created_deployments == []


def test_estimate_prices_the_training_tier_and_names_hosting(make_job) -> None:
    costs = {tier: make_job(epochs=2, options={"training_type": tier}).estimate() for tier in
             ("standard", "globalstandard", "developer")}  # fmt: skip
    assert costs["standard"].cost_usd > costs["globalstandard"].cost_usd > costs["developer"].cost_usd > 0
    standard = costs["standard"]
    assert standard.cost_usd == pytest.approx(standard.billed_tokens / 1e6 * 3.75, abs=1e-4)
    assert any("trainingType=standard" in a for a in standard.assumptions)
    assert any("$1.70/hour" in a for a in standard.assumptions)


def test_the_emulator_requires_an_api_version_and_the_key_header(server: AzureOpenAIServer) -> None:
    missing = httpx.get(f"{server.base_url}/openai/files", headers={"api-key": server.api_key})
    assert missing.status_code == 404
    old = httpx.get(f"{server.base_url}/openai/files", params={"api-version": "2022-12-01"},
                    headers={"api-key": server.api_key})  # fmt: skip
    assert old.status_code == 400
    bearer = httpx.get(f"{server.base_url}/openai/files", params={"api-version": "2025-04-01-preview"},
                       headers={"Authorization": f"Bearer {server.api_key}"})  # fmt: skip
    assert bearer.status_code == 401  # a key goes in api-key; Bearer carries Entra ID tokens


def test_pause_and_resume_work_as_on_openai(server: AzureOpenAIServer, make_job) -> None:
    import time

    from ftkit.types import JobState

    job = make_job(epochs=50)
    job.start()
    deadline = time.monotonic() + 20
    while job.status().state is not JobState.RUNNING and time.monotonic() < deadline:
        time.sleep(0.02)
    paused = job.pause()
    assert paused.state is JobState.PAUSED and paused.provider == "azure"
    assert job.resume().state in (JobState.RUNNING, JobState.QUEUED)
    job.cancel()
