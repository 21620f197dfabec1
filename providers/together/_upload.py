"""What Together changes in ManagedProvider's upload: the SDK's three-step upload, and waiting for validation.

The SDK's ``files.upload`` does three calls: POST ``/v1/files`` (answered by a 302 to a signed URL),
PUT of the bytes, POST ``/v1/files/{id}/preprocess``. Together deduplicates by SHA-256: a second
upload of the same bytes gets a 409 naming the existing file, which the SDK returns instead, so the
whole upload is retried like a read (:func:`upload_file`) instead of reconciling by listing. ftkit's own
content-addressed memory (``ManagedProvider.upload_dataset``) still skips an upload it already made.

Readiness is Together's ``processing_status == "COMPLETED"``; ``INVALID_FORMAT`` carries the reason in
``validation_report.error``, which becomes a :class:`~ftkit.errors.DatasetError` with that message.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftkit._polling import Backoff
from ftkit.data.report import Issue, ValidationReport
from ftkit.errors import DatasetError, ProviderError

from ._client import PROVIDER, TogetherApi

if TYPE_CHECKING:
    import httpx

__all__ = ["upload_file", "wait_until_processed"]

#: how long Together may take to validate a file before ftkit gives up waiting
PROCESSING_TIMEOUT_S = 30 * 60
_NOT_STARTED = ("PENDING",)


def upload_file(api: TogetherApi, path: Path, *, name: str) -> str:
    """Upload ``path`` under ftkit's content-addressed ``name`` (the SDK names the remote file after the path)."""
    named = path.with_name(name)
    named.unlink(missing_ok=True)
    try:
        os.link(path, named)  # a second name for the same bytes: no copy of a large file
    except OSError:
        shutil.copyfile(path, named)
    try:
        return _upload(api, named)
    finally:
        named.unlink(missing_ok=True)


def _upload(api: TogetherApi, path: Path) -> str:
    import httpx

    sdk = api.errors.sdk

    def attempt(client: Any) -> Any:
        try:
            return client.files.upload(path, purpose="fine-tune", check=True)
        except httpx.TransportError as e:
            # the SDK PUTs the bytes with its bare httpx client, so a dropped connection there is not
            # an APIConnectionError yet; make it one so it is retried like any other
            raise sdk.APIConnectionError(message=f"upload interrupted: {e}", request=_request_of(e)) from e

    try:
        # Safe to retry as a whole: Together answers a repeated upload of the same bytes with the
        # existing file (409 by checksum), so a lost answer never makes a second copy.
        response = api.safe(attempt)
    except sdk.lib.FileTypeError as e:
        raise DatasetError(_report(str(e), path, code="together_local_check"), what=f"{path.name}") from e
    return response.id


def _request_of(error: httpx.TransportError) -> httpx.Request:
    import httpx

    try:
        return error.request
    except RuntimeError:  # raised by httpx when the error has no request attached
        return httpx.Request("PUT", "about:blank")


def wait_until_processed(api: TogetherApi, file_id: str, *, path: Path, role: str) -> None:
    """Return once Together has validated ``file_id``; its verdict on a bad file is a DatasetError."""
    deadline = time.monotonic() + PROCESSING_TIMEOUT_S
    backoff = Backoff(0.05, 5.0)
    preprocess_requested = False
    while True:
        file = api.safe(lambda c: c.files.retrieve(file_id))
        status = (file.processing_status or "").upper() or None
        if status in ("COMPLETED", None):
            return  # None: a file that skips validation (Together reports no status for those)
        if status == "INVALID_FORMAT":
            report = file.validation_report
            message = (report.error if report else None) or "Together rejected the file's format"
            raise DatasetError(_report(message, path, code="together_invalid_format"), what=f"{role} data")
        if status == "FAILED":
            raise ProviderError(
                f"Together could not process file {file_id} ({path.name}); upload it again later",
                provider=PROVIDER,
            )
        if status in _NOT_STARTED and not preprocess_requested:
            # The bytes arrived but the preprocess call never did (a lost answer before a 409 dedup
            # hit): ask for it now; it is idempotent.
            _request_preprocess(api, file_id)
            preprocess_requested = True
        if time.monotonic() > deadline:
            raise ProviderError(
                f"Together is still validating file {file_id} after {PROCESSING_TIMEOUT_S // 60} minutes; "
                "call start() again later to continue",
                provider=PROVIDER,
            )
        backoff.sleep(progressed=False, deadline=deadline)


def _request_preprocess(api: TogetherApi, file_id: str) -> Any:
    file_response = api.errors.sdk.types.FileResponse
    return api.safe(lambda c: c.post(f"/v1/files/{file_id}/preprocess", cast_to=file_response))


def _report(message: str, path: Path, *, code: str) -> ValidationReport:
    issue = Issue(
        code=code,
        severity="error",
        message=message,
        hint="fix the file and start again; `ftkit validate --provider together` checks it locally",
        file=path.name,
    )
    return ValidationReport(ok=False, issues=[issue])
