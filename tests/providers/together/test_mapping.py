"""How a JobSpec becomes Together's create arguments and wire body, and what is refused up front."""

from __future__ import annotations

import pytest
from ftkit.providers.together import TogetherOptions, TogetherProvider
from ftkit.providers.together._client import normalise_base_url
from ftkit.providers.together._request import MAX_USER_SUFFIX, create_kwargs, job_tag, remote_suffix
from ftkit.providers.together.testing.emulator import TogetherServer

from ftkit.errors import ConfigError, MissingCredentialsError, UnsupportedSettingError
from ftkit.job import FineTuneJob
from ftkit.spec import JobSpec
from tests.providers.harness_together import MODEL
from tests.providers.together.conftest import job_kwargs


def spec(**settings) -> JobSpec:
    return JobSpec(provider="together", model=MODEL, train="train.jsonl", **settings)


def test_only_chosen_settings_are_sent_and_lora_is_explicit() -> None:
    kwargs = create_kwargs(spec(), TogetherOptions(), job_id="ftk-1", training_file="file-1", validation_file=None)
    assert kwargs == {
        "training_file": "file-1",
        "model": MODEL,
        "lora": True,
        "training_method": "sft",
        "train_on_inputs": "auto",
        "suffix": job_tag("ftk-1"),
    }


def test_neutral_settings_map_to_together_names() -> None:
    kwargs = create_kwargs(
        spec(epochs=3, learning_rate=2e-5, batch_size=16, lora_r=8, lora_alpha=15.6, lora_dropout=0.1,
             max_seq_length=2048, seed=7, suffix="support bot"),
        TogetherOptions(), job_id="ftk-1", training_file="file-1", validation_file="file-2",
    )  # fmt: skip
    assert kwargs["n_epochs"] == 3 and kwargs["learning_rate"] == 2e-5 and kwargs["batch_size"] == 16
    assert (kwargs["lora_r"], kwargs["lora_alpha"], kwargs["lora_dropout"]) == (8, 16, 0.1)  # alpha rounded, not cut
    assert kwargs["max_seq_length"] == 2048 and kwargs["random_seed"] == 7
    assert kwargs["validation_file"] == "file-2"
    assert kwargs["suffix"] == f"support-bot-{job_tag('ftk-1')}"
    assert len(kwargs["suffix"]) <= 40


def test_full_fine_tuning_and_dpo() -> None:
    kwargs = create_kwargs(
        spec(adapter="full", method="dpo"), TogetherOptions(dpo_beta=0.2, rpo_alpha=0.5), job_id="j",
        training_file="f", validation_file=None,
    )  # fmt: skip
    assert kwargs["lora"] is False and kwargs["training_method"] == "dpo"
    assert kwargs["dpo_beta"] == 0.2 and kwargs["rpo_alpha"] == 0.5 and "train_on_inputs" not in kwargs


def test_from_checkpoint_replaces_the_model() -> None:
    kwargs = create_kwargs(spec(), TogetherOptions(from_checkpoint="ft-abc:10"), job_id="j", training_file="f",
                           validation_file=None)  # fmt: skip
    assert kwargs["from_checkpoint"] == "ft-abc:10" and "model" not in kwargs


def test_lora_modules_accept_a_list() -> None:
    assert TogetherOptions(lora_trainable_modules=["q_proj", "v_proj"]).lora_trainable_modules == "q_proj,v_proj"


def test_wandb_key_comes_from_the_environment_only(monkeypatch: pytest.MonkeyPatch) -> None:
    options = TogetherOptions(wandb_project_name="p")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    with pytest.raises(MissingCredentialsError, match="WANDB_API_KEY"):
        create_kwargs(spec(), options, job_id="j", training_file="f", validation_file=None)
    monkeypatch.setenv("WANDB_API_KEY", "wandb-secret-0123456789")
    assert create_kwargs(spec(), options, job_id="j", training_file="f", validation_file=None)["wandb_api_key"] == (
        "wandb-secret-0123456789"
    )
    assert "wandb_api_key" not in TogetherOptions.model_fields, "a secret is never a stored option"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"adapter": "qlora"}, "use adapter='lora'"),
        ({"options": {"dpo_beta": 0.1}}, "only applies to method='dpo'"),
        ({"method": "dpo", "options": {"train_on_inputs": True}}, "only applies to method='sft'"),
        ({"suffix": "x" * (MAX_USER_SUFFIX + 1)}, f"at most {MAX_USER_SUFFIX} characters"),
        ({"options": {"n_evals": 2}}, "need a validation dataset"),
        ({"options": {"early_stopping_patience": 2}}, "need early_stopping=True"),
        ({"options": {"lr_scheduler_type": "step"}}, "lr_scheduler_type"),
    ],
)
def test_refused_before_any_side_effect(settings: dict, message: str) -> None:
    problems = TogetherProvider.check_spec(spec(**settings))
    assert any(message in p for p in problems), problems


def test_limits_are_checked_before_uploading(server: TogetherServer) -> None:
    job = FineTuneJob(**job_kwargs(server, batch_size=4, lora_r=128))
    with pytest.raises(UnsupportedSettingError) as info:
        job.start()
    assert "batch_size must be between 8 and 32" in str(info.value)
    assert "lora_r must be at most 64" in str(info.value)
    assert server.uploads == [] and server.created_jobs == []


def test_base_url_without_v1(monkeypatch: pytest.MonkeyPatch) -> None:
    assert normalise_base_url("http://127.0.0.1:5000/") == "http://127.0.0.1:5000"
    with pytest.warns(UserWarning, match="ends with /v1"):
        assert normalise_base_url("https://api.together.xyz/v1") == "https://api.together.xyz"
    with pytest.raises(ConfigError):
        normalise_base_url("api.together.ai")
    monkeypatch.setenv("TOGETHER_BASE_URL", "http://127.0.0.1:9/v1")
    with pytest.warns(UserWarning):
        assert TogetherProvider().base_url == "http://127.0.0.1:9"


def test_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    provider = TogetherProvider(base_url="http://127.0.0.1:9")
    with pytest.raises(MissingCredentialsError, match="TOGETHER_API_KEY"):
        provider.api.client  # noqa: B018 - building the client reads the key
    monkeypatch.setenv("TOGETHER_API_KEY", "tg-from-env-0123456789")
    assert "tg-from-env" not in repr(provider) and "tg-from-env" not in repr(provider.api)
    assert provider.api.client.api_key == "tg-from-env-0123456789"


def test_suffix_tag_is_stable_per_job() -> None:
    assert remote_suffix(spec(), "ftk-a") == remote_suffix(spec(), "ftk-a") != remote_suffix(spec(), "ftk-b")
