"""Shared fixtures of the local provider tests: one tiny model per session, small datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ftkit.job import FineTuneJob
from ftkit.store import JobStore
from ftkit.testing.samples import colour_examples
from ftkit.testing.tiny import tiny_model


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tiny_model(tmp_path_factory.mktemp("models") / "tiny-llama"))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> JobStore:
    """One job store per module, so module-scoped jobs outlive the per-test FTKIT_HOME."""
    return JobStore(tmp_path_factory.mktemp("store") / "jobs.db")


def local_job(store: JobStore, model: str, *, train: Any = None, **overrides: Any) -> FineTuneJob:
    options = {"max_steps": 6, "logging_steps": 2, "save_steps": 3, **overrides.pop("options", {})}
    kwargs: dict[str, Any] = {"provider": "local", "model": model, "learning_rate": 2e-3, "batch_size": 4,
                              "options": options, **overrides}
    return FineTuneJob(train=train if train is not None else colour_examples(32), store=store, **kwargs)


def adapter_tensors(path: str | Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(Path(path) / "adapter_model.safetensors"))
