"""OpenAI jobs end to end through `FineTuneJob`, with the real SDK client against the emulator."""

from __future__ import annotations

import time

import pytest
from ftkit.providers.openai import _submit
from ftkit.providers.openai.testing.emulator import BASE_ANSWER, OpenAIEmulator

from ftkit.errors import ConfigError, JobFailedError, UnsupportedSettingError
from ftkit.job import FineTuneJob
from ftkit.model import TrainedModel
from ftkit.testing.samples import colour_examples
from ftkit.types import JobState
from tests.providers.harness_openai import OPENAI_KEY
from tests.providers.openai.conftest import MODEL, openai_preference_rows


def test_a_job_runs_and_reports_what_openai_billed(emulator: OpenAIEmulator, make_job) -> None:
    job = make_job(epochs=2, seed=3, suffix="colours", options={"learning_rate_multiplier": 0.5})
    job.start()
    model = job.wait(timeout=30)
    status = job.status()
    assert status.state is JobState.SUCCEEDED and status.raw_status == "succeeded"
    remote = emulator.job(status.remote_id)
    assert model.model_id == remote["fine_tuned_model"] and model.model_id.startswith(f"ft:{MODEL}:")
    assert model.base_model == MODEL and model.job_id == job.id
    # the provider's billed figure sits next to ftkit's estimate, so the two can be compared
    record = job.record
    assert record.actual == {"trained_tokens": remote["trained_tokens"]}
    assert record.estimate["billed_tokens"] > 0
    # the settings arrived where OpenAI expects them
    body = emulator.jobs_created[0]["body"]
    assert body["method"] == {"type": "supervised", "supervised": {"hyperparameters": {
        "n_epochs": 2, "learning_rate_multiplier": 0.5}}}
    assert (body["seed"], body["suffix"], body["metadata"]) == (3, "colours", {"ftkit_job_id": job.id})
    # the training curve comes from the result CSV
    assert model.metrics["steps"] == 32 and 0 < model.metrics["train_loss"] < 1
    assert [c["step"] for c in model.info["checkpoints"]] == [16, 32]


def test_events_are_chronological_with_step_metrics(make_job, monkeypatch: pytest.MonkeyPatch) -> None:
    # small pages, so reading the log crosses many of OpenAI's newest-first pages
    monkeypatch.setattr("ftkit.providers.openai.provider.EVENTS_PAGE_SIZE", 7)
    job = make_job()
    job.start()
    job.wait(timeout=30)
    events = [e for e in job.events() if e.type != "ftkit"]
    assert events[0].message.startswith("Created fine-tuning job")
    assert events[-1].message == "The job has successfully completed"
    steps = [e.step for e in events if e.type == "metrics"]
    assert steps == list(range(1, 17))
    assert all("train_loss" in e.metrics for e in events if e.type == "metrics")
    assert len({e.id for e in events}) == len(events)
    again = FineTuneJob.attach(job.id, api_key=OPENAI_KEY, base_url=job.provider.base_url)
    assert [e.id for e in again.events()] == [e.id for e in job.events()]


def test_the_same_data_is_uploaded_once_across_jobs(emulator: OpenAIEmulator, make_job) -> None:
    first, second = make_job(), make_job(epochs=2)
    first.start()
    second.start()
    assert len(emulator.uploads) == 1 and len(emulator.jobs_created) == 2
    assert {j["body"]["training_file"] for j in emulator.jobs_created} == {emulator.uploads[0]["file_id"]}


def test_a_remembered_file_deleted_on_openai_is_uploaded_again(emulator: OpenAIEmulator, make_job) -> None:
    make_job().start()
    del emulator.files[emulator.uploads[0]["file_id"]]
    make_job().start()
    assert len(emulator.uploads) == 2


def test_validation_data_goes_up_as_the_validation_file(emulator: OpenAIEmulator, make_job) -> None:
    job = make_job(train=colour_examples(16), validation=colour_examples(12, seed=1))
    job.start()
    model = job.wait(timeout=30)
    body = emulator.jobs_created[0]["body"]
    assert body["validation_file"] != body["training_file"] and len(emulator.uploads) == 2
    assert "valid_loss" in model.metrics


def test_dpo_job_maps_beta(emulator: OpenAIEmulator, make_job) -> None:
    job = make_job(train=openai_preference_rows(12), method="dpo", options={"beta": 0.25})
    job.start()
    job.wait(timeout=30)
    body = emulator.jobs_created[0]["body"]
    assert body["method"] == {"type": "dpo", "dpo": {"hyperparameters": {"n_epochs": 1, "beta": 0.25}}}
    uploaded = emulator.files[body["training_file"]].content.decode().splitlines()[0]
    assert '"preferred_output"' in uploaded and '"non_preferred_output"' in uploaded


def test_a_file_openai_rejects_becomes_a_validation_issue(emulator: OpenAIEmulator, make_job) -> None:
    emulator.reject_next_file("Invalid file format. Example 4, message 2 has no content.")
    job = make_job()
    job.start()
    with pytest.raises(JobFailedError, match="Example 4, message 2 has no content"):
        job.wait(timeout=30)
    issue = job.record.provider_data["file_issue"]
    assert issue["code"] == "openai_invalid_training_file" and issue["path"] == "training_file"
    assert "Example 4" in issue["message"]
    assert any("openai_invalid_training_file" in e.message for e in job.events() if e.type == "ftkit")


def test_a_failed_job_reports_openais_error(emulator: OpenAIEmulator, make_job) -> None:
    emulator.fail_next_job("The job failed due to an internal error.", step=5)
    job = make_job()
    job.start()
    with pytest.raises(JobFailedError, match="internal error") as info:
        job.wait(timeout=30)
    assert info.value.status.raw_status == "failed"


def test_unsupported_adapter_is_refused_before_anything_happens(emulator: OpenAIEmulator, make_job) -> None:
    with pytest.raises(UnsupportedSettingError, match="qlora"):
        make_job(adapter="qlora")
    assert emulator.requests == []


def test_openai_refuses_new_jobs_after_the_shutdown(monkeypatch: pytest.MonkeyPatch, make_job) -> None:
    from datetime import date

    monkeypatch.setattr(_submit, "today", lambda: date(2027, 1, 7))
    job = make_job(base_url=None)  # OpenAI itself: refused before any request is made
    with pytest.raises(ConfigError, match="stopped accepting new fine-tuning jobs on 2027-01-06"):
        job.start()


def test_the_emulator_is_warned_but_not_refused_after_the_shutdown(
    monkeypatch: pytest.MonkeyPatch, emulator: OpenAIEmulator, make_job
) -> None:
    from datetime import date

    monkeypatch.setattr(_submit, "today", lambda: date(2027, 1, 7))
    job = make_job()
    job.start()
    assert any("stopped accepting" in e.message and e.level == "warning" for e in job.events())
    assert len(emulator.jobs_created) == 1


# -- generation -----------------------------------------------------------------------------------------------


def test_fine_tune_beats_its_base_model_on_the_training_task(make_job) -> None:
    job = make_job()
    job.start()
    tuned = job.wait(timeout=30)
    base = TrainedModel.from_ref(f"openai:{MODEL}", api_key=OPENAI_KEY, base_url=job.provider.base_url)
    examples = colour_examples(16)
    prompts = [e["messages"][:-1] for e in examples]
    labels = [e["messages"][-1]["content"] for e in examples]

    def accuracy(model: TrainedModel) -> float:
        answers = model.generate(prompts, max_new_tokens=8)
        return sum(a.text == label for a, label in zip(answers, labels, strict=True)) / len(labels)

    assert accuracy(tuned) == 1.0
    assert accuracy(base) == 0.0
    answer = tuned.generate(["Is a ripe tomato red or blue?"])[0]  # unseen wording, learned label
    assert answer.text == "red" and answer.prompt_tokens and answer.latency_s is not None
    assert tuned.generate(["Hello there"])[0].text == BASE_ANSWER


def test_generation_is_bounded_in_concurrency_and_rate(emulator: OpenAIEmulator) -> None:
    emulator.faults.add("POST", "/v1/chat/completions", delay=0.05, times=None)  # slow answers overlap
    base = TrainedModel.from_ref(f"openai:{MODEL}", api_key=OPENAI_KEY, base_url=emulator.base_url)
    answers = base.generate([f"question {i}" for i in range(8)], concurrency=3)
    assert [a.text for a in answers] == [BASE_ANSWER] * 8
    assert emulator.peak_in_flight == 3
    started = time.monotonic()
    base.generate(["a", "b", "c"], requests_per_minute=600)  # one every 0.1 s
    assert time.monotonic() - started >= 0.2


def test_status_shows_progress_while_running(emulator: OpenAIEmulator, make_job) -> None:
    emulator.clock.scale = 0  # the test moves time
    job = make_job()
    job.start()
    emulator.clock.advance(4 + 4 + 5)  # validation, queue, then five 1-second steps
    status = job.status()
    assert (status.state, status.raw_status) == (JobState.RUNNING, "running")
    assert (status.step, status.total_steps) == (5, 16)
