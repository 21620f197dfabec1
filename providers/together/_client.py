"""The Together SDK client, its base URL, and the one place its exceptions become ftkit errors.

ftkit owns the retry policy: the SDK client is built with ``max_retries=0``, so a safe call is retried
by ftkit's policy only (tenacity, honouring Retry-After), and job creation not at all (it reconciles
by listing instead, see ``_submit.py``). Two retry layers would multiply attempts, and the SDK's own
retry of a create that timed out can make a second job.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from ftkit._imports import require
from ftkit._managed import ManagedApi
from ftkit._retry import DEFAULT_POLICY, RetryPolicy
from ftkit.errors import ConfigError

__all__ = ["DEFAULT_BASE_URL", "TogetherApi", "normalise_base_url", "sdk"]

PROVIDER = "together"
DEFAULT_BASE_URL = "https://api.together.ai"


def normalise_base_url(url: str | None) -> str | None:
    """The SDK's base URL has no ``/v1`` (its paths start with ``/v1/...``); 1.x-era URLs had one.

    >>> normalise_base_url("https://api.together.xyz/v1/")
    'https://api.together.xyz'
    >>> normalise_base_url("http://127.0.0.1:8080") is None
    False
    """
    if not url:
        return None
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(
            f"Together base URL {url!r} must start with http:// or https:// (e.g. https://api.together.ai)."
        )
    if url.endswith("/v1"):
        # together>=2 adds /v1 itself; keeping it would send every request to /v1/v1/... (404).
        warnings.warn(
            f"Together base URL {url!r} ends with /v1, which together>=2 adds itself; using {url[:-3]!r}.",
            stacklevel=3,
        )
        url = url[: -len("/v1")]
    return url


def sdk() -> Any:
    """The ``together`` package, imported on first use with an install hint when it is missing."""
    return require("together", extra="together", provider=PROVIDER)


class TogetherApi(ManagedApi):
    """A lazily built ``together.Together`` client plus ftkit's retry and error policy.

    >>> TogetherApi(api_key=lambda: "test-key", base_url="http://127.0.0.1:9")
    <TogetherApi endpoint='http://127.0.0.1:9'>
    >>> api.safe(lambda client: client.fine_tuning.list())        # doctest: +SKIP
    """

    provider = PROVIDER

    def __init__(
        self, *, api_key: Callable[[], str], base_url: str | None, policy: RetryPolicy = DEFAULT_POLICY
    ):
        super().__init__(api_key=api_key, base_url=normalise_base_url(base_url), policy=policy)

    @property
    def endpoint(self) -> str:
        """What upload dedup is keyed on: the same content on another server is another file."""
        return self.base_url or DEFAULT_BASE_URL

    def sdk(self) -> Any:
        return sdk()

    def build_client(self, api_key: str) -> Any:
        return sdk().Together(api_key=api_key, base_url=self.base_url, max_retries=0)
