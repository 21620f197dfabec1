"""The Together SDK client, its base URL, and the one place its exceptions become ftkit errors.

ftkit owns the retry policy: the SDK client is built with ``max_retries=0``, so a safe call is retried
by ftkit's policy only (tenacity, honouring Retry-After), and job creation not at all (it reconciles
by listing instead, see ``_submit.py``). Two retry layers would multiply attempts, and the SDK's own
retry of a create that timed out can make a second job.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from ftkit._imports import require
from ftkit._managed import SdkErrors
from ftkit._retry import DEFAULT_POLICY, RetryPolicy
from ftkit.errors import ConfigError, FtkitError

__all__ = ["DEFAULT_BASE_URL", "TogetherApi", "normalise_base_url", "sdk"]

T = TypeVar("T")
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


class TogetherApi:
    """A lazily built ``together.Together`` client plus ftkit's retry and error policy.

    >>> api = TogetherApi(api_key=lambda: "test-key", base_url="http://127.0.0.1:9")
    >>> api
    <TogetherApi base_url='http://127.0.0.1:9'>
    >>> api.safe(lambda client: client.fine_tuning.list())        # doctest: +SKIP
    """

    def __init__(
        self, *, api_key: Callable[[], str], base_url: str | None, policy: RetryPolicy = DEFAULT_POLICY
    ):
        self._api_key = api_key
        self.base_url = normalise_base_url(base_url)
        self.policy = policy
        self._client: Any = None
        self._errors: SdkErrors | None = None

    def __repr__(self) -> str:  # never shows the key
        return f"<TogetherApi base_url={self.base_url!r}>"

    @property
    def endpoint(self) -> str:
        """What upload dedup is keyed on: the same content on another server is another file."""
        return self.base_url or DEFAULT_BASE_URL

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = sdk().Together(api_key=self._api_key(), base_url=self.base_url, max_retries=0)
        return self._client

    @property
    def errors(self) -> SdkErrors:
        if self._errors is None:
            self._errors = SdkErrors(sdk(), provider=PROVIDER, policy=self.policy)
        return self._errors

    def safe(self, call: Callable[[Any], T], *, not_found: Callable[[], FtkitError] | None = None) -> T:
        """Run an idempotent call (read, list, download), retrying transient failures."""
        with self.errors.mapped(not_found=not_found):
            return self.errors.retrying(lambda: call(self.client))
