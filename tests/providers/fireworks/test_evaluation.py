"""Evaluating a Fireworks fine-tune deploys it on demand, deletes the deployment and reports its cost, with the
real ``fireworks-ai`` client against the emulator; a second run answers from the cache and deploys nothing."""

from __future__ import annotations

from ftkit.providers.fireworks.testing import FireworksServer

from ftkit.evaluation import evaluate
from ftkit.testing.samples import colour_examples


def test_evaluate_deploys_on_demand_and_deletes_the_deployment(server: FireworksServer, make_job) -> None:
    job = make_job()
    job.start()
    model = job.wait(timeout=30)
    test = colour_examples(16)
    result = evaluate(model, test, metrics=["exact_match"])
    assert result.metrics["exact_match"].value > 0.5  # the fine-tune learnt the task
    assert len(result.deployments) == 1 and result.deployments[0]["price_per_hour"] == 7.0
    assert result.deployment_cost_usd is not None
    assert server.live_deployments() == [] and len(server.created_deployments) == 1
    again = evaluate(model, test, metrics=["exact_match"])
    assert again.cached == len(test) and again.deployments == []
    assert len(server.created_deployments) == 1
