"""The ``openai.AzureOpenAI`` client for one Azure OpenAI (Microsoft Foundry) resource.

The fine-tuning data plane is OpenAI's jobs API under ``{endpoint}/openai/...?api-version=...``; the
client authenticates with the resource's key (``api-key`` header) or a Microsoft Entra ID token
provider. Like every ftkit client it is built with ``max_retries=0``: ftkit retries safe calls itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from ftkit.providers.openai._client import OpenAIApi

from ftkit.errors import ConfigError

__all__ = ["API_VERSION_ENV", "DEFAULT_API_VERSION", "ENDPOINT_ENV", "PROVIDER", "AzureApi"]

PROVIDER = "azure"
ENDPOINT_ENV = "AZURE_OPENAI_ENDPOINT"
API_VERSION_ENV = "AZURE_OPENAI_API_VERSION"
#: the data-plane version Microsoft's fine-tuning samples use with ``trainingType`` (MicrosoftDocs
#: azure-ai-docs fine-tuning REST examples, 2025-2026); override with api_version= or AZURE_OPENAI_API_VERSION
DEFAULT_API_VERSION = "2025-04-01-preview"
#: host suffixes of Azure's own endpoints (catalog dates refuse jobs only there, as for OpenAI)
AZURE_HOSTS = (".openai.azure.com", ".cognitiveservices.azure.com", ".services.ai.azure.com")


class AzureApi(OpenAIApi):
    """A lazily built ``openai.AzureOpenAI`` client.

    >>> AzureApi(api_key=lambda: "k", base_url="https://my-aoai.openai.azure.com/")
    <AzureApi endpoint='https://my-aoai.openai.azure.com'>
    """

    provider = PROVIDER

    def __init__(self, *, api_version: str | None = None, token_provider: Callable[[], str] | None = None,
                 **kwargs: Any):
        base_url = kwargs.pop("base_url", None) or os.environ.get(ENDPOINT_ENV)
        if base_url and not str(base_url).startswith(("http://", "https://")):
            raise ConfigError(f"Azure OpenAI endpoint {base_url!r} must start with https:// "
                              "(e.g. https://<resource>.openai.azure.com).")  # fmt: skip
        super().__init__(base_url=str(base_url).rstrip("/") if base_url else None, **kwargs)
        self.api_version = api_version or os.environ.get(API_VERSION_ENV) or DEFAULT_API_VERSION
        self.token_provider = token_provider

    @property
    def endpoint(self) -> str:
        """The resource endpoint: what upload dedup is keyed on."""
        if not self.base_url:
            raise ConfigError(f"No Azure OpenAI endpoint. Pass base_url='https://<resource>.openai.azure.com' "
                              f"(or endpoint=...) to FineTuneJob, or set {ENDPOINT_ENV}.")  # fmt: skip
        return self.base_url

    @property
    def resource_name(self) -> str | None:
        """``<resource>`` of ``https://<resource>.openai.azure.com`` (None for other hosts)."""
        host = urlsplit(self.endpoint).hostname or ""
        return next((host[: -len(s)] for s in AZURE_HOSTS if host.endswith(s)), None)

    @property
    def is_official(self) -> bool:
        return (urlsplit(self.endpoint).hostname or "").endswith(AZURE_HOSTS)

    def build_client(self, api_key: str) -> Any:
        kwargs: dict[str, Any] = {"azure_endpoint": self.endpoint, "api_version": self.api_version, "max_retries": 0}
        if self.token_provider is not None:
            kwargs["azure_ad_token_provider"] = self.token_provider
        else:
            kwargs["api_key"] = api_key
        if self.timeout is not None:
            kwargs["timeout"] = self.timeout
        return self.sdk().AzureOpenAI(**kwargs)
