"""Conformance harness for ``ftkit.testing.FakeProvider``, the in-memory provider shipped for users' tests."""

from __future__ import annotations

from typing import Any

from ftkit.testing import FakeProvider, ProviderHarness

FakeProvider.register()


class Harness(ProviderHarness):
    name = "fake"
    unsupported = {"learning_rate": 1e-4}
    timeout = 10.0

    def job_kwargs(self) -> dict[str, Any]:
        return {"provider": "fake", "model": "fake-base", "options": {"steps": 3}}

    def slow_job_kwargs(self) -> dict[str, Any]:
        return {**self.job_kwargs(), "options": {"steps": 10_000}}

    def pausable_job_kwargs(self) -> dict[str, Any]:
        return {**self.job_kwargs(), "options": {"steps": 50}}  # one step per status read
