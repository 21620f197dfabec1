"""The OpenAI SDK client and ftkit's retry and error policy around it.

The client is built with ``max_retries=0``: safe calls (status, events, listings, downloads) are
retried by ftkit's policy (tenacity, honouring Retry-After), and creates not at all, because the SDK
sends no idempotency key and would retry a create that timed out into a second job.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from ftkit._imports import require
from ftkit._managed import ManagedApi

__all__ = ["DEFAULT_BASE_URL", "OpenAIApi"]

PROVIDER = "openai"
DEFAULT_BASE_URL = "https://api.openai.com/v1"


class OpenAIApi(ManagedApi):
    """A lazily built ``openai.OpenAI`` client.

    >>> OpenAIApi(api_key=lambda: "sk-test", base_url="http://127.0.0.1:9/v1")
    <OpenAIApi endpoint='http://127.0.0.1:9/v1'>
    """

    provider = PROVIDER

    def __init__(self, *, organization: str | None = None, project: str | None = None,
                 timeout: float | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.organization = organization
        self.project = project
        self.timeout = timeout

    @property
    def endpoint(self) -> str:
        """What upload dedup is keyed on: the same bytes on another server are another file."""
        return (self.base_url or DEFAULT_BASE_URL).rstrip("/")

    @property
    def is_official(self) -> bool:
        """True when calls go to OpenAI itself (not the emulator or another compatible server)."""
        return "api.openai.com" in self.endpoint

    def sdk(self) -> ModuleType:
        return require("openai", extra="openai", provider=PROVIDER)

    def build_client(self, api_key: str) -> Any:
        kwargs: dict[str, Any] = {"api_key": api_key, "max_retries": 0}
        if self.base_url:
            kwargs["base_url"] = self.base_url
        if self.organization:
            kwargs["organization"] = self.organization
        if self.project:
            kwargs["project"] = self.project
        if self.timeout is not None:
            kwargs["timeout"] = self.timeout
        return self.sdk().OpenAI(**kwargs)
