"""One script, every provider: switching ``provider=`` is the only change to run a job elsewhere.

The script below is what a user writes. Credentials and endpoints come from the usual environment
variables (``OPENAI_API_KEY``/``OPENAI_BASE_URL``, ``TOGETHER_API_KEY``/``TOGETHER_BASE_URL``,
``FIREWORKS_API_KEY``/``FIREWORKS_ACCOUNT_ID``/``FIREWORKS_BASE_URL``, ``AZURE_OPENAI_API_KEY``/``AZURE_OPENAI_ENDPOINT``
and the ARM settings of ``AzureProvider``), pointed at the offline emulators; the
model is the provider's own name for a small base model. ``serving()`` deploys the fine-tune (and deletes the
deployment) only where the provider serves fine-tunes through a paid deployment, so the script needs no branch.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ftkit.providers.azure.testing import azure_server
from ftkit.providers.fireworks.testing import fireworks_server
from ftkit.providers.openai.testing import openai_server
from ftkit.providers.together.testing import together_server

from ftkit import FineTuneJob, JobState
from ftkit.deployment import serving
from ftkit.testing import colour_examples
from ftkit.testing.tiny import tiny_model
from tests.providers.harness_openai import FAST_TIMING


def script(provider: str, model: str) -> tuple[FineTuneJob, list[str]]:
    """The user's script, verbatim for every provider."""
    job = FineTuneJob(provider=provider, model=model, train=colour_examples(16), epochs=1, batch_size=8)
    job.start()
    trained = job.wait(timeout=300, poll_interval=0.05)
    with serving(trained) as model_for_answers:
        answers = model_for_answers.generate(["What colour is snow?", "What colour is grass?"], max_new_tokens=4)
    return job, [a.text for a in answers]


@pytest.fixture(scope="module")
def environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Emulators for the managed providers and a tiny local model; the model name per provider."""
    tiny = str(tiny_model(tmp_path_factory.mktemp("same-script") / "tiny-llama"))
    with (
        openai_server(api_key="sk-same-script-0123456789", time_scale=400, timing=FAST_TIMING) as openai,
        together_server(api_key="tg-same-script-0123456789", time_scale=400, step_seconds=1.0) as together,
        fireworks_server(api_key="fw-same-script-0123456789", time_scale=400, step_seconds=1.0,
                         deploy_seconds=2.0) as fireworks,
        azure_server(api_key="aoai-same-script-0123456789", time_scale=400, timing=FAST_TIMING,
                     deploy_seconds=2.0) as azure,
    ):
        yield {
            "OPENAI_API_KEY": openai.api_key,
            "OPENAI_BASE_URL": openai.base_url,
            "TOGETHER_API_KEY": together.api_key,
            "TOGETHER_BASE_URL": together.base_url,
            "FIREWORKS_API_KEY": fireworks.api_key,
            "FIREWORKS_ACCOUNT_ID": fireworks.account_id,
            "FIREWORKS_BASE_URL": fireworks.base_url,
            "AZURE_OPENAI_API_KEY": azure.api_key,
            "AZURE_OPENAI_ENDPOINT": azure.base_url,
            "AZURE_SUBSCRIPTION_ID": azure.subscription_id,
            "AZURE_RESOURCE_GROUP": azure.resource_group,
            "AZURE_OPENAI_RESOURCE": azure.resource_name,
            "AZURE_MANAGEMENT_URL": azure.management_url,
            "AZURE_MANAGEMENT_TOKEN": azure.management_token,
            "model:local": tiny,
            "model:openai": "gpt-4o-mini-2024-07-18",
            "model:together": "Qwen/Qwen3-8B",
            "model:fireworks": "llama-v3p1-8b-instruct",
            "model:azure": "gpt-4o-mini-2024-07-18",
        }


@pytest.mark.slow
@pytest.mark.parametrize("provider", ["local", "openai", "together", "fireworks", "azure"])
def test_same_script_runs_on_every_provider(
    provider: str, environment: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in environment.items():
        if name.isupper():
            monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    job, answers = script(provider, environment[f"model:{provider}"])
    assert job.status().state is JobState.SUCCEEDED
    assert job.result().provider == provider
    assert len(answers) == 2 and all(isinstance(a, str) for a in answers)
    if provider != "local":  # the emulated fine-tunes learnt the task; the 1M-parameter local one cannot
        assert answers == ["white", "green"]
