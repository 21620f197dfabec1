"""The Together emulator against the real together SDK: wire shapes from together.md, and strictness."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from ftkit.providers.together.testing.emulator import TogetherServer

from ftkit.testing.samples import colour_examples, preference_examples
from tests.providers.harness_together import fast_server

together = pytest.importorskip("together")
MODEL = "Qwen/Qwen3-8B"


def jsonl(tmp_path: Path, rows: list[dict[str, Any]], name: str = "train.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def ready_file(server: TogetherServer, client: Any, path: Path) -> str:
    file = client.files.upload(path, purpose="fine-tune")
    assert server.wait_until(lambda: client.files.retrieve(file.id).processing_status == "COMPLETED", timeout=5)
    return file.id


@pytest.fixture
def training_file(server: TogetherServer, client: Any, tmp_path: Path) -> str:
    return ready_file(server, client, jsonl(tmp_path, colour_examples(16)))


def raw_post(server: TogetherServer, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(server.base_url + path, json=body, headers={"Authorization": f"Bearer {server.api_key}"})


def test_upload_is_redirect_put_preprocess(server: TogetherServer, client: Any, tmp_path: Path) -> None:
    path = jsonl(tmp_path, colour_examples(4))
    file = client.files.upload(path, purpose="fine-tune")
    steps = [(r.method, r.status) for r in server.requests]
    assert steps == [("POST", 302), ("PUT", 200), ("POST", 200)]
    start = server.requests[0].body["form"]
    assert start == {"purpose": "fine-tune", "file_name": "train.jsonl", "file_type": "jsonl",
                     "checksum": hashlib.sha256(path.read_bytes()).hexdigest()}  # fmt: skip
    assert "authorization" not in server.requests[1].headers, "the signed PUT carries no API key"
    assert server.uploads == [{"file_id": file.id, "sha256": start["checksum"], "bytes": path.stat().st_size,
                               "filename": "train.jsonl"}]  # fmt: skip
    assert file.processing_status == "QUEUED"
    assert server.wait_until(lambda: client.files.retrieve(file.id).processing_status == "COMPLETED", timeout=5)
    report = client.files.retrieve(file.id).validation_report
    assert report.valid and report.dataset_format == "CONVERSATION" and report.nlines == 4


def test_same_bytes_twice_is_a_409_naming_the_file(server: TogetherServer, client: Any, tmp_path: Path) -> None:
    path = jsonl(tmp_path, colour_examples(4))
    first = client.files.upload(path, purpose="fine-tune")
    again = client.files.upload(path, purpose="fine-tune")
    assert again.id == first.id and len(server.uploads) == 1
    assert server.requests_to("POST", "/v1/files")[-1].status == 409
    with pytest.raises(together.lib.resources.files.FileAlreadyExistsError):
        client.files.upload(path, purpose="fine-tune", raise_if_already_exists=True)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"foo": 1}], "could not detect the dataset format"),
        ([{"messages": [{"role": "user", "content": "hi"}]}], "no assistant message"),
        ([{"text": "a"}, {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}],
         "same dataset format"),
    ],
)
def test_server_side_validation_reports_invalid_format(
    server: TogetherServer, client: Any, tmp_path: Path, rows: list, message: str
) -> None:
    file = client.files.upload(jsonl(tmp_path, rows), purpose="fine-tune")
    assert server.wait_until(lambda: client.files.retrieve(file.id).processing_status == "INVALID_FORMAT", timeout=5)
    report = client.files.retrieve(file.id).validation_report
    assert not report.valid and report.error_type == "INVALID_FORMAT" and message in report.error
    estimate = client.fine_tuning.estimate_price(training_file=file.id, model=MODEL)
    assert estimate.estimation_available is False and estimate.unavailable_reason == "train_file_invalid"


def test_model_limits_and_price_estimate(client: Any, training_file: str) -> None:
    limits = client.fine_tuning.model_limits(model_name=MODEL)
    assert limits.api_model_name == MODEL and limits.lora_training.max_rank == 64 and limits.full_training
    quote = client.fine_tuning.estimate_price(training_file=training_file, model=MODEL, n_epochs=2)
    assert quote.estimation_available is True and quote.estimated_total_price > 0
    with pytest.raises(together.NotFoundError) as info:
        client.fine_tuning.model_limits(model_name="no/such-model")
    assert info.value.body["error"]["code"] == "model_not_available"


def test_create_body_is_the_sdks_nested_shape(server: TogetherServer, client: Any, training_file: str) -> None:
    client.fine_tuning.create(
        training_file=training_file, model=MODEL, lora=True, lora_r=8, lora_alpha=16, lora_trainable_modules="q_proj",
        n_epochs=2, lr_scheduler_type="linear", train_on_inputs=False, suffix="demo", wandb_api_key="wb-secret",
    )  # fmt: skip
    body = server.requests_to("POST", "/v1/fine-tunes")[-1].body
    assert body["training_type"] == {"type": "Lora", "lora_r": 8, "lora_alpha": 16, "lora_dropout": 0.0,
                                     "lora_trainable_modules": "q_proj"}  # fmt: skip
    assert body["training_method"] == {"method": "sft", "train_on_inputs": False}
    assert body["lr_scheduler"] == {"lr_scheduler_type": "linear", "lr_scheduler_args": {"min_lr_ratio": 0.0}}
    assert body["wandb_key"] == "wb-secret" and "wandb_api_key" not in body
    assert body["validation_file"] == "" and body["batch_size"] == "max"
    assert "wandb_key" not in server.created_jobs[0]["request"], "the emulator's records keep no secret"


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"lora_r": 8}, "lora_r"),  # misplaced: belongs in training_type
        ({"wandb_api_key": "x"}, "wandb_api_key"),  # the SDK renames it wandb_key
        ({"training_type": {"type": "Lora", "lora_r": 8, "lora_alpha": 16, "rank": 8}}, "training_type.rank"),
        ({"training_method": {"method": "sft", "dpo_beta": 0.1}}, "training_method.dpo_beta"),
        ({"n_epochs": "3"}, "n_epochs"),
        ({"batch_size": "huge"}, "batch_size"),
        ({"n_epochs": 99}, "n_epochs"),
        ({"training_type": {"type": "Lora", "lora_r": 128, "lora_alpha": 16}}, "training_type.lora_r"),
    ],
)
def test_unknown_misplaced_or_invalid_fields_are_refused(
    server: TogetherServer, training_file: str, change: dict, param: str
) -> None:
    response = raw_post(server, "/v1/fine-tunes", {"training_file": training_file, "model": MODEL, **change})
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert server.created_jobs == []


def test_wrong_key_gets_togethers_401(server: TogetherServer) -> None:
    client = together.Together(api_key="tg-wrong-key-000000", base_url=server.base_url, max_retries=0)
    with pytest.raises(together.AuthenticationError) as info:
        client.fine_tuning.list()
    assert info.value.body["error"]["code"] == "invalid_api_key"
    assert "tg-wrong-key" not in json.dumps(info.value.body)


def test_job_lifecycle_checkpoints_and_weights(tmp_path: Path) -> None:
    with fast_server(time_scale=1e-9) as server:  # time moves only when the test says so
        client = together.Together(api_key=server.api_key, base_url=server.base_url, max_retries=0)
        file = client.files.upload(jsonl(tmp_path, colour_examples(16)), purpose="fine-tune")
        server.clock.advance(10)
        check_lifecycle(server, client, file.id)


def check_lifecycle(server: TogetherServer, client: Any, training_file: str) -> None:
    job = client.fine_tuning.create(training_file=training_file, model=MODEL, lora=True, n_epochs=2, n_checkpoints=2)
    assert job.status == "pending" and job.output_name.endswith(job.id[3:11])
    seen = []
    while (status := client.fine_tuning.retrieve(job.id).status) != "completed":
        if not seen or seen[-1] != status:
            seen.append(status)
        server.clock.advance(0.5)
    assert seen == ["pending", "queued", "running", "compressing", "uploading"]
    done = client.fine_tuning.retrieve(job.id)
    assert done.token_count == 2 * server.files[training_file].summary.tokens
    assert done.total_price == round(done.token_count * 0.48 * 1000), "nano-dollars at $0.48 per 1M tokens"
    assert done.x_model_output_name == job.output_name
    types = [e.type for e in client.fine_tuning.list_events(job.id).data]
    assert types[0] == "job_pending" and types[-1] == "job_complete" and "epoch_complete" in types
    steps = [c.step for c in client.fine_tuning.list_checkpoints(job.id).data]
    assert steps == [1, 2]
    content = client.fine_tuning.content(ft_id=job.id, checkpoint="adapter").read()
    assert content[:4] == b"\x28\xb5\x2f\xfd", "a zstd frame"
    with pytest.raises(together.BadRequestError):
        client.fine_tuning.cancel(job.id)  # already completed


def test_cancel_and_scripted_failures(server: TogetherServer, client: Any, training_file: str) -> None:
    job = client.fine_tuning.create(training_file=training_file, model=MODEL, lora=True, n_epochs=20)
    assert client.fine_tuning.cancel(job.id).status == "cancel_requested"
    with pytest.raises(together.BadRequestError):
        client.fine_tuning.cancel(job.id)
    server.wait_until(lambda: client.fine_tuning.retrieve(job.id).status == "cancelled", timeout=5)

    server.fail_next_job("user_error", "No trainable tokens")
    failed = client.fine_tuning.create(training_file=training_file, model=MODEL, lora=True)
    assert server.wait_until(lambda: client.fine_tuning.retrieve(failed.id).status == "user_error", timeout=5)
    last = client.fine_tuning.list_events(failed.id).data[-1]
    assert (last.type, last.level, last.message) == ("job_error", "error", "No trainable tokens")


def test_dpo_needs_preference_data(server: TogetherServer, client: Any, tmp_path: Path, training_file: str) -> None:
    with pytest.raises(together.BadRequestError, match="does not match"):
        client.fine_tuning.create(training_file=training_file, model=MODEL, lora=True, training_method="dpo")
    rows = [{"input": {"messages": r["prompt"]}, "preferred_output": r["chosen"],
             "non_preferred_output": r["rejected"]} for r in preference_examples(8)]  # fmt: skip
    preference_file = ready_file(server, client, jsonl(tmp_path, rows, "prefs.jsonl"))
    job = client.fine_tuning.create(training_file=preference_file, model=MODEL, lora=True, training_method="dpo",
                                    dpo_beta=0.1)  # fmt: skip
    assert server.created_jobs[-1]["request"]["training_method"]["method"] == "dpo"
    assert job.status in ("pending", "queued")  # a fast clock: under load it may have moved on already


def test_emulator_refuses_a_fine_tunes_output_name_in_chat_and_base_models_answer(
    server: TogetherServer, client: Any, training_file: str
) -> None:
    # Together serves fine-tunes only from a dedicated endpoint (test_emulator_serving.py deploys one)
    job = client.fine_tuning.create(training_file=training_file, model=MODEL, lora=True)
    server.wait_until(lambda: client.fine_tuning.retrieve(job.id).status == "completed", timeout=5)
    example = colour_examples(16)[3]["messages"]
    prompt = [m for m in example if m["role"] != "assistant"]
    with pytest.raises(together.NotFoundError) as refused:
        client.chat.completions.create(model=job.output_name, messages=prompt, temperature=0)
    assert "dedicated endpoint" in refused.value.body["error"]["message"]
    base = client.chat.completions.create(model=MODEL, messages=prompt, temperature=0)
    assert base.choices[0].message.content != example[-1]["content"]
    assert base.usage.completion_tokens >= 1
    cut = client.chat.completions.create(model=MODEL, messages=prompt, max_tokens=2)
    assert cut.choices[0].finish_reason == "length"
    with pytest.raises(together.BadRequestError):
        client.chat.completions.create(model=MODEL, messages=prompt, extra_body={"temprature": 0})
    with pytest.raises(together.NotFoundError):
        client.chat.completions.create(model="someone/unknown-model", messages=prompt)
