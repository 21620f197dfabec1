"""Streaming a Together weights archive to disk with HTTP Range resume, never holding it in memory.

``client.fine_tuning.with_streaming_response.content(...)`` reads the body in chunks (the SDK's own advice,
``together/_response.py``), written to ``<dest>.part`` as they arrive, 256 KiB at a time. After a dropped
connection, a 5xx or a 429 the download continues from the bytes already on disk with
``Range: bytes=<size>-`` (what ``tg ft download`` does); a server that ignores the range (200 instead of 206)
restarts the file from zero, so a resumed file is never corrupt. A merged 70B model is about 140 GB: memory stays at one chunk.

Together publishes no checksum for the archive, so ftkit checks the size against ``Content-Range`` /
``Content-Length`` and records the SHA-256 of what it received (``model.info["weights_sha256"]``), which a
later download of the same checkpoint can be compared with; extraction then validates the archive itself.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from ftkit._hashing import sha256_file
from ftkit.errors import ProviderConnectionError, ProviderError

from ._client import PROVIDER, TogetherApi

__all__ = ["CHUNK_BYTES", "stream_to_file"]

CHUNK_BYTES = 1 << 18  # 256 KiB: a few chunks in flight keep memory near 1 MiB
_TOTAL = re.compile(r"/(\d+)\s*$")


def _total_size(headers: Any, offset: int) -> int | None:
    """The whole archive's size: ``Content-Range: bytes a-b/TOTAL``, else offset + ``Content-Length``."""
    match = _TOTAL.search(headers.get("content-range") or "")
    if match:
        return int(match.group(1))
    length = headers.get("content-length")
    return offset + int(length) if length and length.isdigit() else None


def stream_to_file(api: TogetherApi, query: dict[str, Any], part: Path, *, max_resumes: int = 8) -> tuple[int, str]:
    """Download ``GET /v1/finetune/download?<query>`` into ``part`` (resuming what is there); ``(bytes, sha256)``.

    ``part`` is kept after a failure, so calling again continues where it stopped.
    """
    import httpx

    errors = api.errors
    resumes = 0
    while True:
        offset = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            with api.client.fine_tuning.with_streaming_response.content(**query, extra_headers=headers) as response:
                if offset and response.status_code == 200:
                    offset = 0  # the server sent the whole file again: start the part over
                total = _total_size(response.headers, offset)
                with part.open("r+b" if offset else "wb") as out:
                    out.seek(offset)
                    out.truncate()
                    for chunk in response.iter_bytes(CHUNK_BYTES):
                        out.write(chunk)
            size = part.stat().st_size
            if total is not None and size < total:
                raise httpx.ReadError(f"connection closed at {size} of {total} bytes")
            if total is not None and size > total:
                part.unlink()
                raise ProviderError(f"the weights archive is {size} bytes, more than the {total} announced; "
                                    "downloaded again from zero next time", provider=PROVIDER)  # fmt: skip
            return size, sha256_file(part)
        except errors.sdk.APIStatusError as e:
            if e.status_code == 416 and offset:  # asked past the end: what is on disk is the whole archive
                return part.stat().st_size, sha256_file(part)
            if not errors.is_retryable(e) or resumes >= max_resumes:
                raise errors.translate(e) from e
            wait = errors.retry_after(e)
        except (httpx.HTTPError, errors.sdk.APIConnectionError) as e:
            if resumes >= max_resumes:
                have = part.stat().st_size if part.exists() else 0
                raise ProviderConnectionError(
                    f"the weights download kept failing ({e}); {have:,} bytes are kept in {part} and the next "
                    "download() continues from there", provider=PROVIDER,
                ) from e
            wait = None
        resumes += 1
        policy = errors.policy
        time.sleep(wait if wait is not None else min(policy.initial_wait * 2 ** (resumes - 1), policy.max_wait))
