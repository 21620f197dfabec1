"""Conformance harness for the Azure OpenAI provider: the real ``openai.AzureOpenAI`` client (and plain
HTTPS calls to the emulated Azure Resource Manager for deployments) against the emulator on 127.0.0.1."""

from __future__ import annotations

from typing import Any

from ftkit.providers.azure.testing import AzureOpenAIServer

from ftkit._retry import RetryPolicy
from ftkit.testing import EmulatorHarness
from tests.providers.harness_openai import FAST_TIMING

AZURE_KEY = "aoai-ftkit-conformance-0123456789abcdef"
#: retries that wait milliseconds, so fault tests stay quick
FAST_RETRIES = RetryPolicy(attempts=5, initial_wait=0.01, max_wait=0.05)
MODEL = "gpt-4o-mini-2024-07-18"


def fast_server(**options: Any) -> AzureOpenAIServer:
    """An emulator whose 16-example job ends in well under a second of wall time."""
    return AzureOpenAIServer(**{"api_key": AZURE_KEY, "time_scale": 400, "timing": FAST_TIMING,
                                "deploy_seconds": 4.0, **options})  # fmt: skip


def connection(server: AzureOpenAIServer) -> dict[str, Any]:
    return {**server.connection(), "poll_interval": 0.02, "retry_policy": FAST_RETRIES}


class Harness(EmulatorHarness):
    name = "azure"
    unsupported = {"learning_rate": 1e-4}
    timeout = 60.0
    secret = AZURE_KEY

    def make_server(self) -> Any:
        return fast_server()

    def job_kwargs(self) -> dict[str, Any]:
        return {"provider": "azure", "model": MODEL, **connection(self.server)}

    def slow_job_kwargs(self) -> dict[str, Any]:
        return {**self.job_kwargs(), "epochs": 50}

    def bad_credentials(self) -> dict[str, Any]:
        return {"api_key": "aoai-not-the-right-key-0123456789"}
