"""The OpenAI provider's pure parts: spec checks, the request mapping, status and metrics parsing."""

from __future__ import annotations

import base64
from types import SimpleNamespace

import pytest
from ftkit.providers.openai import OpenAIProvider
from ftkit.providers.openai._options import OpenAIOptions
from ftkit.providers.openai._request import job_request
from ftkit.providers.openai._status import STATES, job_status, map_state, parse_metrics_csv, to_event
from ftkit.providers.openai.testing._schema import check_job_request

from ftkit.errors import MissingCredentialsError, UnsupportedSettingError
from ftkit.spec import JobSpec
from ftkit.types import JobState

MODEL = "gpt-4o-mini-2024-07-18"


def spec(**settings) -> JobSpec:
    return JobSpec(provider="openai", model=MODEL, train="train.jsonl", **settings)


# -- what is refused before anything happens -------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"adapter": "qlora"}, "adapter='qlora' is not supported"),
        ({"adapter": "full"}, "adapter='full' is not supported"),
        ({"learning_rate": 1e-4}, "learning_rate_multiplier"),
        ({"lora_r": 8}, "adapter settings"),
        ({"max_seq_length": 1024}, "per-example limit"),
        ({"epochs": 51}, "epochs=51 is out of OpenAI's range 1..50"),
        ({"batch_size": 512}, "batch_size=512"),
        ({"options": {"beta": 0.1}}, "beta only applies to method='dpo'"),
        ({"options": {"wandb_name": "run"}}, "need options.wandb_project"),
        ({"options": {"metadata": {"ftkit_job_id": "x"}}}, "reserved"),
        ({"options": {"n_epochs": 3}}, "options.n_epochs"),
    ],
)
def test_settings_openai_cannot_honour_are_refused_with_a_hint(settings: dict, expected: str) -> None:
    problems = OpenAIProvider.check_spec(spec(**settings))
    assert any(expected in p for p in problems), problems
    with pytest.raises(UnsupportedSettingError):
        OpenAIProvider.ensure_supported(spec(**settings))


def test_supported_settings_pass() -> None:
    assert OpenAIProvider.check_spec(spec(epochs=3, batch_size=8, seed=1, suffix="x")) == []
    assert OpenAIProvider.check_spec(spec(method="dpo", options={"beta": 0.1, "learning_rate_multiplier": 2})) == []


# -- the create request --------------------------------------------------------------------------------------


def test_unset_settings_are_not_sent_so_openai_chooses() -> None:
    body = job_request(spec(), OpenAIOptions(), job_id="ftk-1", training_file="file-1", validation_file=None)
    assert body == {"model": MODEL, "training_file": "file-1", "method": {"type": "supervised"},
                    "metadata": {"ftkit_job_id": "ftk-1"}}


def test_every_setting_maps_to_its_openai_field() -> None:
    options = OpenAIOptions(learning_rate_multiplier=0.5, beta=0.2, wandb_project="p", wandb_entity="team",
                            wandb_name="run", wandb_tags=["a"], metadata={"team": "search"})
    body = job_request(spec(method="dpo", epochs=3, batch_size=4, seed=42, suffix="tickets"), options,
                       job_id="ftk-1", training_file="file-t", validation_file="file-v")
    assert body == {
        "model": MODEL,
        "training_file": "file-t",
        "validation_file": "file-v",
        "seed": 42,
        "suffix": "tickets",
        "method": {"type": "dpo", "dpo": {"hyperparameters": {
            "n_epochs": 3, "batch_size": 4, "learning_rate_multiplier": 0.5, "beta": 0.2}}},
        "integrations": [{"type": "wandb", "wandb": {"project": "p", "entity": "team", "name": "run",
                                                     "tags": ["a"]}}],
        "metadata": {"team": "search", "ftkit_job_id": "ftk-1"},
    }


@pytest.mark.parametrize("method", ["sft", "dpo"])
@pytest.mark.parametrize("options", [{}, {"learning_rate_multiplier": 1.5, "wandb_project": "p"}])
def test_requests_pass_the_emulators_strict_schema(method: str, options: dict) -> None:
    if method == "dpo":
        options = {**options, "beta": 0.5}
    body = job_request(spec(method=method, epochs=2, batch_size=1, seed=0, suffix="s"), OpenAIOptions(**options),
                       job_id="ftk-1", training_file="file-1", validation_file=None)
    check_job_request(body)  # raises the 400 the real service would send


# -- status, events, metrics ------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", sorted(STATES))
def test_every_documented_status_maps(raw: str) -> None:
    assert map_state(raw) is STATES[raw]
    terminal = raw in ("succeeded", "failed", "cancelled")
    assert map_state(raw).is_terminal is terminal


def _job(**fields):
    base = {"id": "ftjob-1", "status": "running", "created_at": 1_800_000_000, "finished_at": None,
            "trained_tokens": None, "error": None, "fine_tuned_model": None}
    return SimpleNamespace(**{**base, **fields})


def test_an_unknown_future_status_is_kept_and_not_terminal() -> None:
    status = job_status(_job(status="rebalancing"), job_id="ftk-1")
    assert status.state is JobState.RUNNING and not status.is_terminal
    assert status.raw_status == "rebalancing"


@pytest.mark.parametrize("raw", ["pausing", "paused"])
def test_pausing_and_paused_are_paused_not_running(raw: str) -> None:
    status = job_status(_job(status=raw), job_id="ftk-1")
    assert status.state is JobState.PAUSED and not status.is_terminal
    assert status.raw_status == raw


def test_failed_job_keeps_the_providers_message_and_param() -> None:
    error = SimpleNamespace(code="invalid_training_file", message="Line 3 has no messages.", param="training_file")
    status = job_status(_job(status="failed", error=error, finished_at=1_800_000_100), job_id="ftk-1")
    assert status.state is JobState.FAILED
    assert status.error == "Line 3 has no messages. (training_file)"
    assert status.finished_at is not None


def test_metrics_events_are_parsed() -> None:
    raw = SimpleNamespace(id="ftevent-1", created_at=1_800_000_000, level="warn", message="Step 3/10",
                          type="metrics", data={"step": 3, "total_steps": 10, "train_loss": 1.25,
                                                "train_mean_token_accuracy": 0.5, "note": "x", "flag": True})
    event = to_event(raw)
    assert (event.step, event.total_steps, event.level) == (3, 10, "warning")
    assert event.metrics == {"train_loss": 1.25, "train_mean_token_accuracy": 0.5}


def test_result_csv_plain_and_base64() -> None:
    csv = b"step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy\n1,2.0,0.4,,\n2,1.0,0.6,1.2,0.55\n"
    expected = {"train_loss": 1.0, "train_accuracy": 0.6, "valid_loss": 1.2, "valid_mean_token_accuracy": 0.55,
                "steps": 2.0}
    assert parse_metrics_csv(csv) == expected
    assert parse_metrics_csv(base64.b64encode(csv)) == expected


# -- credentials ------------------------------------------------------------------------------------------------------


def test_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(MissingCredentialsError, match="OPENAI_API_KEY"):
        _ = OpenAIProvider().api_key


def test_key_and_base_url_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-0123456789")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    provider = OpenAIProvider()
    assert provider.api_key == "sk-from-env-0123456789"
    assert provider.api.endpoint == "http://127.0.0.1:9/v1" and not provider.api.is_official
    assert "sk-from" not in repr(provider) and "sk-from" not in repr(provider.api)
    assert OpenAIProvider(api_key="sk-x").api.is_official is False  # env base URL still applies
    monkeypatch.delenv("OPENAI_BASE_URL")
    assert OpenAIProvider(api_key="sk-x").api.is_official
