"""The fixtures every managed provider's tests share: a fresh emulator per test and jobs wired to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ftkit.job import FineTuneJob
from ftkit.testing.samples import colour_examples


def emulator_fixtures(
    provider: str, model: str, connection: Callable[[Any], dict[str, Any]], fast_server: Callable[[], Any]
) -> tuple[Any, Callable[..., dict[str, Any]], Any]:
    """``(server, job_kwargs, make_job)`` for a conftest: ``server`` a fixture starting ``fast_server()`` per
    test, ``job_kwargs(server, **overrides)`` FineTuneJob arguments for a 16-example, 1-epoch colour task on
    it, ``make_job`` a fixture building such jobs."""

    @pytest.fixture
    def server() -> Iterator[Any]:
        with fast_server() as emulator:
            yield emulator

    def job_kwargs(server: Any, **overrides: Any) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"provider": provider, "model": model, "train": colour_examples(16), "epochs": 1,
                                  **connection(server)}  # fmt: skip
        kwargs.update(overrides)
        return kwargs

    @pytest.fixture
    def make_job(server: Any) -> Callable[..., FineTuneJob]:
        """``make_job(**overrides)``: a FineTuneJob on the emulator."""

        def make(**overrides: Any) -> FineTuneJob:
            return FineTuneJob(**job_kwargs(server, **overrides))

        return make

    return server, job_kwargs, make_job
