"""Fixtures for the Together provider tests: a fresh emulator per test and jobs wired to it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from ftkit.providers.together.testing.emulator import TogetherServer

from ftkit.job import FineTuneJob
from ftkit.testing.samples import colour_examples
from tests.providers.harness_together import MODEL, connection, fast_server


@pytest.fixture
def server() -> Iterator[TogetherServer]:
    with fast_server() as emulator:
        yield emulator


def job_kwargs(server: TogetherServer, **overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"provider": "together", "model": MODEL, "train": colour_examples(16), "epochs": 1,
                              **connection(server)}  # fmt: skip
    kwargs.update(overrides)
    return kwargs


@pytest.fixture
def make_job(server: TogetherServer):
    """``make_job(**overrides)``: a FineTuneJob on the emulator (a 16-example, 1-epoch colour task)."""

    def make(**overrides: Any) -> FineTuneJob:
        return FineTuneJob(**job_kwargs(server, **overrides))

    return make


@pytest.fixture
def client(server: TogetherServer) -> Any:
    """The real together SDK client pointed at the emulator (SDK retries off, to see each answer)."""
    together = pytest.importorskip("together")
    return together.Together(api_key=server.api_key, base_url=server.base_url, max_retries=0)
