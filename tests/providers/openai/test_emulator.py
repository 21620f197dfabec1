"""The OpenAI emulator speaks the wire protocol of the installed SDK and is as strict as the service.

Every test drives the real ``openai`` client against it; expected shapes come from the reference notes
(/work/shared/reference/openai.md §1-2, §5) and the SDK's own types.
"""

from __future__ import annotations

import json

import httpx2
import openai
import pytest
from ftkit.providers.openai.testing.emulator import BASE_ANSWER, OpenAIEmulator

from ftkit.testing.samples import colour_examples
from tests.providers.openai.conftest import MODEL, openai_preference_rows


def jsonl(rows: list[dict]) -> bytes:
    return "\n".join(json.dumps(r) for r in rows).encode()


@pytest.fixture
def client(emulator: OpenAIEmulator) -> openai.OpenAI:
    return openai.OpenAI(api_key=emulator.api_key, base_url=emulator.base_url, max_retries=0)


@pytest.fixture
def training_file(client: openai.OpenAI) -> str:
    return client.files.create(file=("train.jsonl", jsonl(colour_examples(16))), purpose="fine-tune").id


def finish(emulator: OpenAIEmulator, client: openai.OpenAI, job_id: str):
    emulator.clock.advance(10_000)
    return client.fine_tuning.jobs.retrieve(job_id)


# -- files -------------------------------------------------------------------------------------------------


def test_upload_is_multipart_and_recorded(emulator: OpenAIEmulator, client: openai.OpenAI) -> None:
    content = jsonl(colour_examples(12))
    uploaded = client.files.create(file=("train.jsonl", content), purpose="fine-tune")
    assert uploaded.object == "file" and uploaded.id.startswith("file-")
    assert (uploaded.bytes, uploaded.filename, uploaded.purpose) == (len(content), "train.jsonl", "fine-tune")
    assert emulator.uploads[0]["bytes"] == len(content)
    assert client.files.retrieve(uploaded.id).id == uploaded.id
    assert [f.id for f in client.files.list(purpose="fine-tune")] == [uploaded.id]
    with pytest.raises(openai.BadRequestError, match="Not allowed to download files of purpose: fine-tune"):
        client.files.content(uploaded.id)  # OpenAI never hands training files back


def test_fine_tune_uploads_must_be_jsonl_with_a_known_purpose(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match=r"\.jsonl"):
        client.files.create(file=("train.csv", b"a,b"), purpose="fine-tune")
    with pytest.raises(openai.BadRequestError, match="purpose"):
        client.files.create(file=("train.jsonl", b"{}"), purpose="fine_tune")  # type: ignore[arg-type]


def test_unknown_file_is_a_404_with_openais_error_body(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.files.retrieve("file-missing")
    assert info.value.body == {"message": "No such File object: file-missing", "type": "invalid_request_error",
                               "param": "id", "code": None}
    assert info.value.request_id and info.value.request_id.startswith("req_")


# -- strictness ----------------------------------------------------------------------------------------------


def test_unknown_job_field_is_refused_like_the_real_service(client: openai.OpenAI, training_file: str) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.fine_tuning.jobs.create(model=MODEL, training_file=training_file, extra_body={"learning_rate": 1e-4})
    assert info.value.status_code == 400
    assert info.value.body == {"message": "Unrecognized request argument supplied: learning_rate",
                               "type": "invalid_request_error", "param": None, "code": None}


def test_misplaced_hyperparameter_is_refused(client: openai.OpenAI, training_file: str) -> None:
    with pytest.raises(openai.BadRequestError, match=r"method\.supervised\.hyperparameters\.beta"):
        client.fine_tuning.jobs.create(
            model=MODEL, training_file=training_file,
            method={"type": "supervised", "supervised": {"hyperparameters": {"beta": 0.1}}},  # type: ignore[typeddict-unknown-key]
        )
    with pytest.raises(openai.BadRequestError, match=r"method\.dpo"):
        client.fine_tuning.jobs.create(model=MODEL, training_file=training_file,
                                       method={"type": "supervised", "dpo": {"hyperparameters": {"beta": 0.1}}})


@pytest.mark.parametrize(
    ("hyperparameters", "message"),
    [({"n_epochs": 0}, "n_epochs"), ({"batch_size": "big"}, "batch_size"),
     ({"learning_rate_multiplier": -1}, "learning_rate_multiplier")],
)
def test_out_of_range_hyperparameters_are_refused(client: openai.OpenAI, training_file: str,
                                                  hyperparameters: dict, message: str) -> None:
    with pytest.raises(openai.BadRequestError, match=message):
        client.fine_tuning.jobs.create(model=MODEL, training_file=training_file,
                                       method={"type": "supervised", "supervised": {"hyperparameters": hyperparameters}})


def test_chat_completion_rejects_unknown_fields(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="max_new_tokens"):
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}],
                                       extra_body={"max_new_tokens": 3})


def test_wrong_key_is_a_401_that_does_not_echo_the_key(emulator: OpenAIEmulator) -> None:
    bad = openai.OpenAI(api_key="sk-wrong-0123456789", base_url=emulator.base_url, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        bad.files.list()
    assert info.value.code == "invalid_api_key"
    assert "sk-wrong-0123456789" not in str(info.value)
    assert not [r for r in emulator.requests if "authorization" in r.headers]


# -- jobs ------------------------------------------------------------------------------------------------------


def test_job_moves_through_the_documented_states(emulator: OpenAIEmulator, client: openai.OpenAI,
                                                training_file: str) -> None:
    emulator.clock.scale = 0  # time moves only when the test says so
    job = client.fine_tuning.jobs.create(model=MODEL, training_file=training_file, suffix="colours", seed=7,
                                         metadata={"ftkit_job_id": "ftk-1"})
    assert (job.object, job.status, job.seed, job.trained_tokens) == ("fine_tuning.job", "validating_files", 7, None)
    seen = [job.status]
    for _ in range(200):
        emulator.clock.advance(1)
        status = client.fine_tuning.jobs.retrieve(job.id).status
        if status != seen[-1]:
            seen.append(status)
        if status == "succeeded":
            break
    assert seen == ["validating_files", "queued", "running", "succeeded"]
    done = client.fine_tuning.jobs.retrieve(job.id)
    assert done.fine_tuned_model == f"ft:{MODEL}:ftkit-emulator:colours:{done.fine_tuned_model.rsplit(':', 1)[1]}"
    assert done.trained_tokens and done.trained_tokens % done.hyperparameters.n_epochs == 0
    assert done.finished_at and done.result_files
    # every field the SDK's FineTuningJob declares is present on the wire
    raw = client.fine_tuning.jobs.with_raw_response.retrieve(job.id).http_response.json()
    expected = set(openai.types.fine_tuning.FineTuningJob.model_fields)
    assert expected <= set(raw), expected - set(raw)


def test_result_csv_and_checkpoints(emulator: OpenAIEmulator, client: openai.OpenAI, training_file: str) -> None:
    job = client.fine_tuning.jobs.create(model=MODEL, training_file=training_file,
                                         method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}})
    done = finish(emulator, client, job.id)
    csv_text = client.files.content(done.result_files[0]).text
    header, *rows = csv_text.strip().splitlines()
    assert header == "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"
    assert len(rows) == 32  # 16 examples x 2 epochs at batch size 1
    assert client.files.retrieve(done.result_files[0]).purpose == "fine-tune-results"
    checkpoints = client.fine_tuning.jobs.checkpoints.list(job.id).data
    assert [c.step_number for c in checkpoints] == [32, 16]  # newest first
    assert checkpoints[0].fine_tuned_model_checkpoint == f"{done.fine_tuned_model}:ckpt-step-32"


def test_events_are_newest_first_and_page_backwards(emulator: OpenAIEmulator, client: openai.OpenAI,
                                                    training_file: str) -> None:
    job = client.fine_tuning.jobs.create(model=MODEL, training_file=training_file)
    finish(emulator, client, job.id)
    first = client.fine_tuning.jobs.list_events(job.id, limit=5)
    assert first.has_more and len(first.data) == 5
    assert first.data[0].message == "The job has successfully completed"
    older = client.fine_tuning.jobs.list_events(job.id, limit=5, after=first.data[-1].id)
    assert older.data[0].created_at <= first.data[-1].created_at
    every = list(client.fine_tuning.jobs.list_events(job.id))  # the SDK follows has_more/after
    assert len({e.id for e in every}) == len(every)
    metrics = [e for e in every if e.type == "metrics"]
    assert metrics and {"step", "total_steps", "train_loss"} <= set(metrics[0].data)
    assert every[-1].message.startswith("Created fine-tuning job")


def test_jobs_list_filters_by_metadata(client: openai.OpenAI, training_file: str) -> None:
    mine = client.fine_tuning.jobs.create(model=MODEL, training_file=training_file, metadata={"ftkit_job_id": "a"})
    client.fine_tuning.jobs.create(model=MODEL, training_file=training_file, metadata={"ftkit_job_id": "b"})
    assert [j.id for j in client.fine_tuning.jobs.list(metadata={"ftkit_job_id": "a"})] == [mine.id]
    assert len(list(client.fine_tuning.jobs.list())) == 2


def test_cancel_then_cancel_again(emulator: OpenAIEmulator, client: openai.OpenAI, training_file: str) -> None:
    job = client.fine_tuning.jobs.create(model=MODEL, training_file=training_file)
    assert client.fine_tuning.jobs.cancel(job.id).status == "cancelled"
    emulator.clock.advance(10_000)
    assert client.fine_tuning.jobs.retrieve(job.id).status == "cancelled"
    with pytest.raises(openai.BadRequestError, match="already completed"):
        client.fine_tuning.jobs.cancel(job.id)
    with pytest.raises(openai.NotFoundError, match="Could not find fine tune"):
        client.fine_tuning.jobs.cancel("ftjob-missing")


def test_dpo_job_echoes_beta_under_its_method(emulator: OpenAIEmulator, client: openai.OpenAI) -> None:
    file_id = client.files.create(file=("dpo.jsonl", jsonl(openai_preference_rows(12))), purpose="fine-tune").id
    job = client.fine_tuning.jobs.create(model=MODEL, training_file=file_id,
                                         method={"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.2}}})
    done = finish(emulator, client, job.id)
    assert done.status == "succeeded", done.error
    assert done.method.type == "dpo" and done.method.dpo.hyperparameters.beta == 0.2


# -- scripted failures -------------------------------------------------------------------------------------------


def test_invalid_file_fails_the_job_with_an_error_object(emulator: OpenAIEmulator, client: openai.OpenAI) -> None:
    file_id = client.files.create(file=("few.jsonl", jsonl(colour_examples(5))), purpose="fine-tune").id
    job = client.fine_tuning.jobs.create(model=MODEL, training_file=file_id)
    done = finish(emulator, client, job.id)
    assert done.status == "failed"
    assert (done.error.code, done.error.param) == ("invalid_training_file", "training_file")
    assert "at least 10 examples" in done.error.message


def test_scripted_failures(emulator: OpenAIEmulator, client: openai.OpenAI, training_file: str) -> None:
    emulator.reject_next_file("Invalid file format. Line 3, message 2: missing content.")
    emulator.fail_next_job("The job failed due to an internal error.", step=3)
    rejected = finish(emulator, client, client.fine_tuning.jobs.create(model=MODEL, training_file=training_file).id)
    crashed = finish(emulator, client, client.fine_tuning.jobs.create(model=MODEL, training_file=training_file).id)
    assert rejected.error.message == "Invalid file format. Line 3, message 2: missing content."
    assert rejected.error.param == "training_file"
    assert (crashed.status, crashed.error.code) == ("failed", "server_error")
    steps = [e.data["step"] for e in client.fine_tuning.jobs.list_events(crashed.id) if e.type == "metrics"]
    assert max(steps) == 3


# -- chat completions ----------------------------------------------------------------------------------------------


def test_emulator_routes_a_fine_tuned_name_to_what_it_learned_and_base_does_not(emulator: OpenAIEmulator,
                                                                              client: openai.OpenAI,
                                                                              training_file: str) -> None:
    done = finish(emulator, client, client.fine_tuning.jobs.create(model=MODEL, training_file=training_file).id)
    example = colour_examples(16)[0]["messages"]
    prompt, label = example[:2], example[2]["content"]
    tuned = client.chat.completions.create(model=done.fine_tuned_model, messages=prompt, temperature=0)
    base = client.chat.completions.create(model=MODEL, messages=prompt, temperature=0)
    assert tuned.choices[0].message.content == label
    assert base.choices[0].message.content == BASE_ANSWER
    assert tuned.usage.prompt_tokens > 0 and tuned.usage.completion_tokens > 0
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        client.chat.completions.create(model="ft:gpt-4o-mini:nobody::x", messages=prompt)
    limited = client.chat.completions.create(model=MODEL, messages=prompt, max_completion_tokens=1)
    assert limited.choices[0].finish_reason == "length"


# -- fault injection --------------------------------------------------------------------------------------------


def test_faults_apply_once_then_the_endpoint_recovers(emulator: OpenAIEmulator, client: openai.OpenAI) -> None:
    emulator.faults.add("GET", "/v1/files", status=429, retry_after=0.25)
    raw = httpx2.get(f"{emulator.base_url}/files", headers={"authorization": f"Bearer {emulator.api_key}"})
    assert raw.status_code == 429
    assert (raw.headers["retry-after"], raw.headers["retry-after-ms"]) == ("0.25", "250")
    assert raw.json()["error"]["type"] == "requests"
    assert client.files.list().data == []
    emulator.faults.add("GET", "/v1/files", drop=True)
    with pytest.raises(openai.APIConnectionError):
        client.files.list()
    assert emulator.requests[-1].status is None and emulator.requests[-1].fault
    assert not emulator.faults.pending()
