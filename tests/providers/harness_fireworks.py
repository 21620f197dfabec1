"""Conformance harness for the Fireworks provider: the real ``fireworks-ai`` client against the emulator on 127.0.0.1."""

from __future__ import annotations

from typing import Any

from ftkit.providers.fireworks.testing import FireworksServer

from ftkit._retry import RetryPolicy
from ftkit.testing import EmulatorHarness

FIREWORKS_KEY = "fw-ftkit-conformance-0123456789abcdef"
#: retries that wait milliseconds, so fault tests stay quick
FAST_RETRIES = RetryPolicy(attempts=5, initial_wait=0.01, max_wait=0.05)
MODEL = "llama-v3p1-8b-instruct"


def fast_server(**options: Any) -> FireworksServer:
    """An emulator whose 16-example, 1-epoch job ends in well under a second of wall time."""
    return FireworksServer(**{"api_key": FIREWORKS_KEY, "time_scale": 400, "step_seconds": 1.0,
                              "validating_seconds": 2.0, "deploy_seconds": 4.0, **options})  # fmt: skip


def connection(server: FireworksServer) -> dict[str, Any]:
    return {"api_key": server.api_key, "account_id": server.account_id, "base_url": server.base_url,
            "poll_interval": 0.02, "retry_policy": FAST_RETRIES}  # fmt: skip


class Harness(EmulatorHarness):
    name = "fireworks"
    unsupported = {"seed": 7}
    timeout = 60.0
    secret = FIREWORKS_KEY

    def make_server(self) -> Any:
        return fast_server()

    def job_kwargs(self) -> dict[str, Any]:
        return {"provider": "fireworks", "model": MODEL, "epochs": 1, **connection(self.server)}

    def slow_job_kwargs(self) -> dict[str, Any]:
        return {**self.job_kwargs(), "epochs": 40}

    def bad_credentials(self) -> dict[str, Any]:
        return {"api_key": "fw-not-the-right-key-0123456789"}
