"""A third-party provider gets everything a built-in gets, with no change to ``ftkit/``.

``ftkit_echo`` (beside this file, found through its entry point) declares its own catalog file, its own
upload format and hosting that needs a paid deployment. Through ftkit's public API alone it gets plan rows,
validation rules, estimates, deploy-on-demand evaluation with the hosting cost in the comparison, and
``ftkit deployments list|delete``.
"""

from __future__ import annotations

import json
from pathlib import Path

import ftkit_echo
import pytest

import ftkit
from ftkit import FineTuneJob
from ftkit.cli import main
from ftkit.data import validate
from ftkit.deployment import Deployment, DeploymentState
from ftkit.estimation.compare import plan
from ftkit.evaluation.compare import Candidate
from ftkit.store import JobStore
from ftkit.testing import colour_examples

KEY = "echo-third-party-key-0123456789"


@pytest.fixture
def echo_key(monkeypatch):
    monkeypatch.setenv("ECHO_API_KEY", KEY)


def _write(tmp_path, rows, name="train.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_plan_prices_it_from_its_own_catalog(tmp_path):
    train = _write(tmp_path, colour_examples(16))
    (row,) = plan(str(train), targets=[("echo", "echo-base")])
    assert row.provider == "echo" and row.model == "echo-base"
    assert row.epochs == 2  # the catalog's default_epochs
    assert row.cost_usd == pytest.approx(row.billed_tokens * 2.0 / 1e6)
    untargeted = {(e.provider, e.model) for e in plan(str(train))}
    assert ("echo", "echo-base") in untargeted  # the catalog's default_model, with no target named


def test_validation_applies_its_catalog_rules(tmp_path):
    few = _write(tmp_path, colour_examples(2), "few.jsonl")
    codes = {i.code for i in validate(few, provider="echo", model="echo-base").errors}
    assert "too_few_examples" in codes  # rules.min_examples: 4
    long = colour_examples(6)
    long[3]["messages"][-1]["content"] = "word " * 400  # over the model's 200-token cap
    report = validate(_write(tmp_path, long, "long.jsonl"), provider="echo", model="echo-base")
    assert [i.line for i in report.issues if i.code == "example_too_long"] == [4]


def test_it_converts_uploads_to_its_own_format(tmp_path, echo_key):
    job = FineTuneJob(provider="echo", model="echo-base", train=colour_examples(8))
    job.start()
    job.wait(timeout=30)
    upload = job.record.provider_data["upload"]
    rows = [json.loads(line) for line in Path(upload).read_text().splitlines()]
    assert set(rows[0]) == {"question", "answer"} and len(rows) == 8


def test_compare_deploys_on_demand_deletes_and_reports_the_hosting_cost(tmp_path, echo_key):
    job = FineTuneJob(provider="echo", model="echo-base", train=colour_examples(8))
    job.start()
    model = job.wait(timeout=30)
    test = _write(tmp_path, colour_examples(6), "test.jsonl")
    report = ftkit.compare([Candidate(name="echo base", model="echo:echo-base"), model], test=test,
                           metrics=["exact_match"], cache=False)
    tuned = report.rows[1]
    assert tuned.evaluated and tuned.hosting == "deployment"
    assert tuned.deployment_price_per_hour == pytest.approx(3.6)  # from its catalog's deployment offer
    assert tuned.deployment_cost_usd is not None and tuned.deployment_cost_usd >= 0
    assert any("deployment" in note for note in tuned.notes)
    assert ftkit_echo.running_deployments() == []  # nothing left running on the "service"
    (created,) = JobStore().list_deployments()
    assert created.created_by == "evaluation" and created.state == DeploymentState.DELETED.value


def test_a_deployment_left_by_a_crash_is_listed_and_deleted_from_the_cli(echo_key, capsys):
    job = FineTuneJob(provider="echo", model="echo-base", train=colour_examples(8))
    job.start()
    model = job.wait(timeout=30)
    left = model.deploy()  # the process "dies" here: never deleted
    capsys.readouterr()
    assert main(["deployments", "list", "--json"]) == 0
    assert [d["id"] for d in json.loads(capsys.readouterr().out)] == [left.id]
    assert main(["deployments", "delete", left.id[:8]]) == 0  # a unique prefix is enough
    assert Deployment.attach(left.id).state is DeploymentState.DELETED
    assert ftkit_echo.running_deployments() == []
