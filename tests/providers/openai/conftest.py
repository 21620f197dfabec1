"""Fixtures for the OpenAI provider tests: a fresh emulator per test and jobs wired to it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from ftkit.providers.openai.testing.emulator import OpenAIEmulator

from ftkit.job import FineTuneJob
from ftkit.testing.samples import colour_examples, preference_examples
from tests.providers.harness_openai import FAST_RETRIES, FAST_TIMING, OPENAI_KEY

MODEL = "gpt-4o-mini-2024-07-18"


def openai_preference_rows(n: int) -> list[dict[str, Any]]:
    """ftkit's preference samples in OpenAI's DPO format (``input``/``preferred_output``/...)."""
    return [
        {"input": {"messages": r["prompt"]}, "preferred_output": r["chosen"], "non_preferred_output": r["rejected"]}
        for r in preference_examples(n)
    ]


@pytest.fixture
def emulator() -> Iterator[OpenAIEmulator]:
    server = OpenAIEmulator(api_key=OPENAI_KEY, time_scale=400, timing=FAST_TIMING)
    with server:
        yield server


def job_kwargs(server: OpenAIEmulator, **overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "provider": "openai",
        "model": MODEL,
        "train": colour_examples(16),
        "epochs": 1,
        "api_key": OPENAI_KEY,
        "base_url": server.base_url,
        "poll_interval": 0.02,
        "retry_policy": FAST_RETRIES,
    }
    kwargs.update(overrides)
    return kwargs


@pytest.fixture
def make_job(emulator: OpenAIEmulator):
    """``make_job(**overrides)``: a FineTuneJob on the emulator (a 16-example, 1-epoch colour task)."""

    def make(**overrides: Any) -> FineTuneJob:
        return FineTuneJob(**job_kwargs(emulator, **overrides))

    return make
