"""Conformance harness for the Together provider: the real ``together`` client against the emulator on 127.0.0.1."""

from __future__ import annotations

from typing import Any

from ftkit.providers.together.testing.emulator import TogetherServer

from ftkit._retry import RetryPolicy
from ftkit.testing import EmulatorHarness

TOGETHER_KEY = "tg-ftkit-conformance-0123456789abcdef"
#: retries that wait milliseconds, so fault tests stay quick
FAST_RETRIES = RetryPolicy(attempts=5, initial_wait=0.01, max_wait=0.05)
MODEL = "Qwen/Qwen3-8B"


def fast_server(**options: Any) -> TogetherServer:
    """An emulator whose 16-example, 1-epoch job ends in about 0.1 s of wall time."""
    return TogetherServer(**{"api_key": TOGETHER_KEY, "time_scale": 400, "step_seconds": 1.0, **options})


def connection(server: TogetherServer) -> dict[str, Any]:
    return {"api_key": server.api_key, "base_url": server.base_url, "poll_interval": 0.02, "retry_policy": FAST_RETRIES}


class Harness(EmulatorHarness):
    name = "together"
    unsupported = {"adapter": "qlora"}
    timeout = 60.0
    secret = TOGETHER_KEY

    def make_server(self) -> Any:
        return fast_server()

    def job_kwargs(self) -> dict[str, Any]:
        return {"provider": "together", "model": MODEL, **connection(self.server)}

    def slow_job_kwargs(self) -> dict[str, Any]:
        return {**self.job_kwargs(), "epochs": 20}

    def bad_credentials(self) -> dict[str, Any]:
        return {"api_key": "tg-not-the-right-key-0123456789"}
