"""The Together emulator's dedicated inference and metrics, driven by the real together SDK's v2 projects API:
what these tests show is the emulator's routing and refusals (ftkit's own deploy path is in test_deploy.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ftkit.providers.together.testing.emulator import TogetherServer

from ftkit.testing.samples import colour_examples
from tests.providers.harness_together import fast_server

together = pytest.importorskip("together")
MODEL = "Qwen/Qwen3-8B"


def finished_job(server: TogetherServer, client: Any, tmp_path: Path, model: str = MODEL, **create: Any) -> Any:
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in colour_examples(16)))
    file = client.files.upload(path, purpose="fine-tune")
    assert server.wait_until(lambda: client.files.retrieve(file.id).processing_status == "COMPLETED", timeout=5)
    job = client.fine_tuning.create(training_file=file.id, model=model, lora=True, **create)
    assert server.wait_until(lambda: client.fine_tuning.retrieve(job.id).status == "completed", timeout=10)
    return client.fine_tuning.retrieve(job.id)


@pytest.fixture
def server():
    with fast_server(deploy_seconds=2.0) as emulator:
        yield emulator


@pytest.fixture
def client(server: TogetherServer) -> Any:
    identity = together.Together(api_key=server.api_key, base_url=server.base_url, max_retries=0).whoami()
    return together.Together(api_key=server.api_key, base_url=server.base_url, max_retries=0,
                             project_id=identity.project.id)  # fmt: skip


def deploy(server: TogetherServer, client: Any, job: Any, name: str = "ep-one") -> tuple[Any, Any]:
    pid = client.project_id
    registered = client.models.retrieve(job.model_object_id)
    configs = list(client.models.configs.list(reference_model=registered.base_model))
    assert len(configs) == 1
    endpoint = client.endpoints.create(name=name)
    deployment = client.endpoints.deployments.create(
        endpoint.id, name="d1", model=f"projects/{pid}/models/{job.model_object_id}",
        config=f"projects/{configs[0].project_id}/configs/{configs[0].id}",
        autoscaling={"min_replicas": 1, "max_replicas": 1}, inactive_timeout=30,
    )  # fmt: skip
    return endpoint, deployment


def test_emulator_routes_a_fine_tune_only_through_a_ready_routed_deployment(
    server: TogetherServer, client: Any, tmp_path: Path
) -> None:
    job = finished_job(server, client, tmp_path)
    endpoint, deployment = deploy(server, client, job)
    assert endpoint.name == f"{server.user}/ep-one" and deployment.status.state == "DEPLOYMENT_STATE_PROVISIONING"
    assert len(server.running_deployments) == 1  # billed while provisioning, idle or not
    example = colour_examples(16)[3]["messages"]
    prompt = [m for m in example if m["role"] != "assistant"]
    with pytest.raises(together.APIStatusError) as unrouted:
        client.chat.completions.create(model=endpoint.name, messages=prompt)
    assert unrouted.value.status_code == 503
    client.endpoints.update(endpoint.id, traffic_split=[{"deployment_id": deployment.id, "weight": 1}],
                            update_mask="trafficSplit")  # fmt: skip
    assert server.wait_until(lambda: client.endpoints.deployments.retrieve(
        deployment.id, endpoint_id=endpoint.id).status.state == "DEPLOYMENT_STATE_READY", timeout=5)  # fmt: skip
    for name in (endpoint.name, deployment.name):
        answer = client.chat.completions.create(model=name, messages=prompt, temperature=0)
        assert answer.choices[0].message.content == example[-1]["content"]
    with pytest.raises(together.NotFoundError):
        client.chat.completions.create(model=job.x_model_output_name, messages=prompt)


def test_emulator_refuses_teardown_out_of_order_and_reference_bases(
    server: TogetherServer, client: Any, tmp_path: Path
) -> None:
    job = finished_job(server, client, tmp_path)
    endpoint, deployment = deploy(server, client, job)
    with pytest.raises(together.ConflictError):
        client.endpoints.create(name="ep-one")
    client.endpoints.update(endpoint.id, traffic_split=[{"deployment_id": deployment.id, "weight": 1}],
                            update_mask="trafficSplit")  # fmt: skip
    with pytest.raises(together.BadRequestError, match="deployments first"):
        client.endpoints.delete(endpoint.id)
    with pytest.raises(together.BadRequestError, match="live traffic"):
        client.endpoints.deployments.delete(deployment.id, endpoint_id=endpoint.id)
    client.endpoints.deployments.update(deployment.id, endpoint_id=endpoint.id, update_mask="autoscaling",
                                        autoscaling={"min_replicas": 0, "max_replicas": 0})  # fmt: skip
    assert server.running_deployments == []  # scaled to zero: nothing billed
    client.endpoints.update(endpoint.id, traffic_split=[], update_mask="trafficSplit")
    client.endpoints.deployments.delete(deployment.id, endpoint_id=endpoint.id)
    client.endpoints.delete(endpoint.id)
    assert server.live_endpoints == []
    with pytest.raises(together.NotFoundError):
        client.endpoints.retrieve(endpoint.id)

    reference = finished_job(server, client, tmp_path, model="meta-llama/Meta-Llama-3.1-8B-Instruct-Reference")
    base = client.models.retrieve(reference.model_object_id).base_model
    assert list(client.models.configs.list(reference_model=base)) == []


def test_metrics_endpoint_has_the_documented_shape(server: TogetherServer, client: Any, tmp_path: Path) -> None:
    job = finished_job(server, client, tmp_path, n_epochs=2, batch_size=8)  # 4 steps
    rows = client.fine_tuning.list_metrics(job.id).metrics
    train = [r for r in rows if "train/global_step" in r]
    assert len(train) == job.total_steps and {"train/loss", "train/learning_rate", "timestamp"} <= set(train[0])
    steps = [r["train/global_step"] for r in train]
    assert steps == sorted(steps)
    window = client.fine_tuning.list_metrics(job.id, global_step_from=2, global_step_to=3).metrics
    assert [r["train/global_step"] for r in window] == [2, 3]
    assert len(client.fine_tuning.list_metrics(job.id, resolution=2).metrics) == 2
    events = client.fine_tuning.list_events(job.id).data
    assert not any("loss" in (e.message or "") for e in events)  # event text carries no numbers


def test_emulator_limits_and_prices_come_from_the_catalog(server: TogetherServer, client: Any) -> None:
    from ftkit.estimation.catalog import load_catalog

    small = client.fine_tuning.model_limits(model_name="openai/gpt-oss-20b").lora_training
    large = client.fine_tuning.model_limits(model_name="openai/gpt-oss-120b").lora_training
    assert (small.min_batch_size, small.max_batch_size) == (8, 8)
    assert (large.min_batch_size, large.max_batch_size) == (16, 16)
    hardware = client.endpoints.hardware.list().data[0]
    offer = load_catalog("together").find(MODEL).deployment
    assert hardware.price_cents_per_hour == round(offer.usd_per_hour * 100)
