"""Conformance harness for the OpenAI provider: the real ``openai`` client against the emulator on 127.0.0.1."""

from __future__ import annotations

from typing import Any

from ftkit.providers.openai.testing._jobs import Timing
from ftkit.providers.openai.testing.emulator import OpenAIEmulator

from ftkit._retry import RetryPolicy
from ftkit.testing import EmulatorHarness

OPENAI_KEY = "sk-ftkit-conformance-0123456789abcdef"
#: retries that wait milliseconds, so fault tests stay quick
FAST_RETRIES = RetryPolicy(attempts=5, initial_wait=0.01, max_wait=0.05)
#: emulated seconds: a 16-example job (6 "auto" epochs, 96 steps) takes ~0.3 s of wall time at 400x
FAST_TIMING = Timing(validate_seconds=4, queue_seconds=4, step_seconds=1, finish_seconds=2)


class Harness(EmulatorHarness):
    name = "openai"
    unsupported = {"learning_rate": 1e-4}
    timeout = 60.0
    secret = OPENAI_KEY

    def make_server(self) -> Any:
        return OpenAIEmulator(api_key=OPENAI_KEY, time_scale=400, timing=FAST_TIMING)

    def job_kwargs(self) -> dict[str, Any]:
        return {
            "provider": "openai",
            "model": "gpt-4o-mini-2024-07-18",
            "api_key": OPENAI_KEY,
            "base_url": self.server.base_url,
            "poll_interval": 0.05,
            "retry_policy": FAST_RETRIES,
        }

    def slow_job_kwargs(self) -> dict[str, Any]:
        return {**self.job_kwargs(), "epochs": 50}

    def bad_credentials(self) -> dict[str, Any]:
        return {"api_key": "sk-not-the-right-key-0123456789"}
