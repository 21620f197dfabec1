"""Conformance harness for the third-party `echo` provider (tests/plugins/ftkit_echo.py)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from ftkit.testing import ProviderHarness

ECHO_KEY = "echo-secret-key-0123456789"


class Harness(ProviderHarness):
    name = "echo"
    unsupported = {"learning_rate": 1e-4}
    timeout = 30.0
    secret = ECHO_KEY

    def job_kwargs(self) -> dict[str, Any]:
        return {"provider": "echo", "model": "echo-base", "api_key": ECHO_KEY, "options": {"steps": 4}}

    def slow_job_kwargs(self) -> dict[str, Any]:
        return {**self.job_kwargs(), "options": {"steps": 200, "step_seconds": 0.05}}

    def bad_credentials(self) -> dict[str, Any]:
        return {"api_key": "wrong-key-0123456789"}

    @contextlib.contextmanager
    def rate_limited(self) -> Iterator[None]:
        os.environ["ECHO_RATE_LIMITED"] = "1"
        try:
            yield
        finally:
            del os.environ["ECHO_RATE_LIMITED"]
