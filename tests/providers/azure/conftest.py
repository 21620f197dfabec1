"""Fixtures for the Azure provider tests: a fresh emulator per test and jobs wired to it."""

from __future__ import annotations

from tests.providers.emulator_fixtures import emulator_fixtures
from tests.providers.harness_azure import MODEL, connection, fast_server

server, job_kwargs, make_job = emulator_fixtures("azure", MODEL, connection, fast_server)
