"""Fixtures of the migration tests: the OpenAI emulator holding a succeeded job created directly through the
``openai`` SDK (never through ftkit), as a team that fine-tuned in OpenAI's console or a script of its own has."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ftkit.providers.openai.testing.emulator import OpenAIEmulator

from ftkit.testing.samples import colour_examples
from tests.providers.harness_openai import FAST_RETRIES, FAST_TIMING, OPENAI_KEY

BASE = "gpt-4o-mini-2024-07-18"


@dataclass
class RemoteJob:
    """A job made with the plain SDK, and what it was made from."""

    server: OpenAIEmulator
    job_id: str
    fine_tuned_model: str
    training_file: str
    validation_file: str | None
    train_rows: list[dict[str, Any]]
    validation_rows: list[dict[str, Any]]
    #: the user's own copies of the files uploaded (OpenAI never hands training files back)
    train_path: str = ""
    validation_path: str | None = None

    def data(self) -> dict[str, Any]:
        """``train=``/``validation=`` of the migration API: the user's copies."""
        return {"train": self.train_path, "validation": self.validation_path}

    def data_flags(self) -> list[str]:
        return ["--train", self.train_path] + (["--validation", self.validation_path] if self.validation_path else [])

    def connection(self) -> dict[str, Any]:
        return {"api_key": OPENAI_KEY, "base_url": self.server.base_url, "retry_policy": FAST_RETRIES}

    def chat_calls(self, model: str | None = None) -> list[dict[str, Any]]:
        """Chat completions the emulator answered for ``model`` (default: the fine-tune), from its own log."""
        wanted = model or self.fine_tuned_model
        return [c for c in self.server.recorded("completion") if c["model"] == wanted]


def sdk_client(server: OpenAIEmulator) -> Any:
    from openai import OpenAI

    return OpenAI(api_key=OPENAI_KEY, base_url=server.base_url, max_retries=0)


def create_with_sdk(server: OpenAIEmulator, *, train: list[dict[str, Any]], validation: list[dict[str, Any]] | None,
                    method: dict[str, Any] | None = None, suffix: str | None = "router", seed: int | None = None,
                    model: str = BASE, wait: bool = True) -> RemoteJob:
    """Upload and create exactly as a user's own script would, then wait for the job to succeed."""
    client = sdk_client(server)
    folder = Path(tempfile.mkdtemp(prefix="user-data-"))

    def upload(rows: list[dict[str, Any]], name: str) -> str:
        body = "".join(json.dumps(r) + "\n" for r in rows).encode()
        (folder / name).write_bytes(body)  # the copy the user keeps
        return client.files.create(file=(name, body), purpose="fine-tune").id

    training_file = upload(train, "tickets-train.jsonl")
    validation_file = upload(validation, "tickets-valid.jsonl") if validation else None
    kwargs: dict[str, Any] = {"model": model, "training_file": training_file}
    if validation_file:
        kwargs["validation_file"] = validation_file
    if method:
        kwargs["method"] = method
    if suffix:
        kwargs["suffix"] = suffix
    if seed is not None:
        kwargs["seed"] = seed
    job = client.fine_tuning.jobs.create(**kwargs)
    deadline = time.monotonic() + 30
    while wait and job.status not in ("succeeded", "failed", "cancelled"):
        assert time.monotonic() < deadline, f"emulated job stuck in {job.status}"
        time.sleep(0.02)
        job = client.fine_tuning.jobs.retrieve(job.id)
    return RemoteJob(server, job.id, job.fine_tuned_model or "", training_file, validation_file, train,
                     validation or [], str(folder / "tickets-train.jsonl"),
                     str(folder / "tickets-valid.jsonl") if validation else None)


@pytest.fixture
def emulator() -> Iterator[OpenAIEmulator]:
    server = OpenAIEmulator(api_key=OPENAI_KEY, time_scale=400, timing=FAST_TIMING)
    with server:
        yield server


@pytest.fixture
def remote_job(emulator: OpenAIEmulator) -> RemoteJob:
    """A succeeded SFT job ("auto" epochs, explicit batch size and multiplier) with a validation file."""
    rows = colour_examples(30)
    return create_with_sdk(
        emulator, train=rows[:20], validation=rows[20:],
        method={"type": "supervised", "supervised": {"hyperparameters": {"batch_size": 2,
                                                                           "learning_rate_multiplier": 0.5}}},
        seed=1234,
    )


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
