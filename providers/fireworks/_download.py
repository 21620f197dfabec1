"""Reading files Fireworks hands out as signed URLs: a job's metrics file and a fine-tune's adapter.

The URLs carry their own signature, so they are fetched with a plain HTTP client and no Fireworks
credentials, retried like any safe call. A download never writes into a folder that already holds files.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ftkit._retry import RetryPolicy, call_with_retries
from ftkit.errors import ConfigError, JobNotFoundError, ProviderError

from ._client import PROVIDER, FireworksApi

__all__ = ["download_adapter", "fetch_signed"]


def fetch_signed(url: str, policy: RetryPolicy) -> bytes:
    """GET a signed URL, retried on 408/429/5xx and dropped connections."""
    import httpx

    def get() -> bytes:
        response = httpx.get(url, timeout=60.0, follow_redirects=True)
        response.raise_for_status()
        return response.content

    def retryable(exc: BaseException) -> bool:
        if isinstance(exc, httpx.HTTPStatusError):
            return exc.response.status_code in (408, 429) or exc.response.status_code >= 500
        return isinstance(exc, httpx.TransportError)

    try:
        return call_with_retries(get, is_retryable=retryable, policy=policy)
    except httpx.HTTPError as e:
        raise ProviderError(f"could not read {url.split('?')[0]} ({e}); retry later", provider=PROVIDER) from e


def download_adapter(api: FireworksApi, model_name: str, target: Path) -> Path:
    """Every file of the fine-tune's adapter (``models.get_download_endpoint``) into ``target``, a new or
    empty folder; the files land in a staging folder first, so a failed download leaves nothing half-written."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ConfigError(f"{target} already exists and is not an empty folder; choose a new destination.")
    model_id = model_name.rsplit("/", 1)[-1]
    endpoint = api.safe(lambda c: c.models.get_download_endpoint(model_id),
                        not_found=lambda: JobNotFoundError(model_name, "Fireworks models"))  # fmt: skip
    urls = dict(endpoint.filename_to_signed_urls or {})
    if not urls:
        raise ProviderError(f"Fireworks offered no files for {model_name}", provider=PROVIDER)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        for filename, url in sorted(urls.items()):
            (staging / Path(filename).name).write_bytes(fetch_signed(url, api.policy))
        if target.exists():
            target.rmdir()  # empty, checked above
        staging.rename(target)
    finally:
        if staging.exists():
            for leftover in staging.iterdir():
                leftover.unlink()
            staging.rmdir()
    return target
