"""Conformance harness for ``provider="local"``: a 1M-parameter tiny model built offline, a few steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftkit.testing import ProviderHarness
from ftkit.testing.tiny import tiny_model


class Harness(ProviderHarness):
    name = "local"
    timeout = 240.0
    slow = True  # trains a real (tiny) model in a subprocess

    def setup(self, workdir: Path) -> None:
        self.model = str(tiny_model(workdir / "tiny-llama"))

    def job_kwargs(self) -> dict[str, Any]:
        return {"provider": "local", "model": self.model, "learning_rate": 2e-3, "batch_size": 4,
                "options": {"max_steps": 4, "logging_steps": 2, "save_steps": 2}}

    def slow_job_kwargs(self) -> dict[str, Any]:
        # long enough that cancel() always lands mid-training; it stops at the next step with a checkpoint
        return {**self.job_kwargs(), "options": {"max_steps": 100_000, "logging_steps": 50, "save_steps": 1000}}
