"""Fixtures for the Together provider tests: a fresh emulator per test and jobs wired to it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.providers.emulator_fixtures import emulator_fixtures
from tests.providers.harness_together import MODEL, connection, fast_server

server, job_kwargs, make_job = emulator_fixtures("together", MODEL, connection, fast_server)


@pytest.fixture
def client(server: Any) -> Any:
    """The real together SDK client pointed at the emulator (SDK retries off, to see each answer)."""
    together = pytest.importorskip("together")
    return together.Together(api_key=server.api_key, base_url=server.base_url, max_retries=0)
