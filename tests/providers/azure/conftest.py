"""Fixtures for the Azure provider tests: a fresh emulator per test and jobs wired to it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from ftkit.providers.azure.testing import AzureOpenAIServer

from ftkit.job import FineTuneJob
from ftkit.testing.samples import colour_examples
from tests.providers.harness_azure import MODEL, connection, fast_server


@pytest.fixture
def server() -> Iterator[AzureOpenAIServer]:
    with fast_server() as emulator:
        yield emulator


def job_kwargs(server: AzureOpenAIServer, **overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"provider": "azure", "model": MODEL, "train": colour_examples(16), "epochs": 1,
                              **connection(server)}  # fmt: skip
    kwargs.update(overrides)
    return kwargs


@pytest.fixture
def make_job(server: AzureOpenAIServer):
    """``make_job(**overrides)``: a FineTuneJob on the emulator (a 16-example, 1-epoch colour task)."""

    def make(**overrides: Any) -> FineTuneJob:
        return FineTuneJob(**job_kwargs(server, **overrides))

    return make
