"""The OpenAI emulator refuses what OpenAI refuses: models it cannot fine-tune or serve, and training data the
service rejects after upload. Driven with the real ``openai`` client, so the refusals arrive as the SDK's own
exceptions and error objects; these tests check the emulator, which the provider tests then rely on.
"""

from __future__ import annotations

import copy
import json

import openai
import pytest
from ftkit.providers.openai.testing.emulator import OpenAIEmulator

from ftkit.testing.samples import colour_examples
from tests.providers.openai.conftest import MODEL


def jsonl(rows: list[dict]) -> bytes:
    return "\n".join(json.dumps(r) for r in rows).encode()


@pytest.fixture
def client(emulator: OpenAIEmulator) -> openai.OpenAI:
    return openai.OpenAI(api_key=emulator.api_key, base_url=emulator.base_url, max_retries=0)


def upload(client: openai.OpenAI, rows: list[dict]) -> str:
    return client.files.create(file=("train.jsonl", jsonl(rows)), purpose="fine-tune").id


@pytest.mark.parametrize("model", ["gpt-9-imaginary", "text-embedding-3-small", "gpt-4.1-nano-2025-04-14",
                                   "gpt-3.5-turbo-0125"],
                         ids=["unknown", "embedding-model", "shut-down-2026-10-23", "shut-down-legacy"])
def test_create_refuses_a_model_that_cannot_be_fine_tuned(client: openai.OpenAI, model: str) -> None:
    file_id = upload(client, colour_examples(12))
    with pytest.raises(openai.BadRequestError) as caught:
        client.fine_tuning.jobs.create(model=model, training_file=file_id)
    assert caught.value.code == "model_not_available" and caught.value.param == "model"
    assert f"Model {model} is not available for fine-tuning" in caught.value.message


def test_the_model_listing_carries_shutdown_dates(client: openai.OpenAI) -> None:
    listed = client.models.retrieve(MODEL)
    assert (listed.id, listed.object, listed.shutdown_date) == (MODEL, "model", "2027-01-14")
    assert MODEL in {m.id for m in client.models.list()}
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-9-imaginary")


def test_chat_refuses_unknown_and_non_chat_models(client: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.NotFoundError, match="does not exist or you do not have access"):
        client.chat.completions.create(model="gpt-9-imaginary", messages=messages)
    with pytest.raises(openai.NotFoundError, match="not a chat model"):
        client.chat.completions.create(model="text-embedding-3-small", messages=messages)
    assert client.chat.completions.create(model=MODEL, messages=messages).choices[0].message.content


def _broken(change) -> list[dict]:
    rows = copy.deepcopy(colour_examples(12))
    change(rows[2])
    return rows


BROKEN = {
    "no-content": lambda row: row["messages"][1].pop("content"),
    "numeric-content": lambda row: row["messages"][1].update(content=42),
    "unknown-message-key": lambda row: row["messages"][1].update(mood="happy"),
    "unknown-example-key": lambda row: row.update(label="red"),
    "developer-role": lambda row: row["messages"][0].update(role="developer"),
    "empty-content": lambda row: row["messages"][2].update(content=""),
    "over-65536-tokens": lambda row: row["messages"][1].update(content="colour " * 70_000),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_training_data_the_service_rejects_fails_the_job(emulator: OpenAIEmulator, client: openai.OpenAI,
                                                         case: str) -> None:
    job = client.fine_tuning.jobs.create(model=MODEL, training_file=upload(client, _broken(BROKEN[case])))
    emulator.clock.advance(10_000)
    done = client.fine_tuning.jobs.retrieve(job.id)
    assert done.status == "failed"
    assert (done.error.code, done.error.param) == ("invalid_training_file", "training_file")
    assert "Line 3" in done.error.message


def test_tool_calls_without_content_are_valid(emulator: OpenAIEmulator, client: openai.OpenAI) -> None:
    rows = copy.deepcopy(colour_examples(12))
    for row in rows:
        row["messages"].append({"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "log", "arguments": "{}"}}]})
        row["messages"].append({"role": "tool", "tool_call_id": "call_1", "content": "ok"})
        row["messages"].append({"role": "assistant", "content": "done"})
    job = client.fine_tuning.jobs.create(model=MODEL, training_file=upload(client, rows))
    emulator.clock.advance(10_000)
    assert client.fine_tuning.jobs.retrieve(job.id).status == "succeeded"


def test_pause_and_resume_refuse_the_wrong_state(emulator: OpenAIEmulator, client: openai.OpenAI) -> None:
    job = client.fine_tuning.jobs.create(model=MODEL, training_file=upload(client, colour_examples(12)))
    with pytest.raises(openai.BadRequestError, match="cannot be resumed"):
        client.fine_tuning.jobs.resume(job.id)
    emulator.clock.advance(10_000)
    with pytest.raises(openai.BadRequestError, match="succeeded and cannot be paused"):
        client.fine_tuning.jobs.pause(job.id)


def test_wind_down_mode_answers_create_with_403(emulator: OpenAIEmulator, client: openai.OpenAI) -> None:
    emulator.wind_down = True
    with pytest.raises(openai.PermissionDeniedError):
        client.fine_tuning.jobs.create(model=MODEL, training_file=upload(client, colour_examples(12)))
    assert emulator.jobs_created == []
