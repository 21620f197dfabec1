"""Uploading a dataset to Fireworks exactly once: a dataset whose id is its content hash.

Fireworks datasets are named by the client (``datasets.create(dataset_id=...)``), so the content-addressed
name :class:`~ftkit.managed.ManagedProvider` gives every upload (``ftkit-train-<hash16>``) is the dataset
id. The service itself then remembers what was uploaded: the same bytes in a later job, on another
machine or after a crash find the READY dataset and upload nothing. The bytes go up in one
``datasets.upload`` request (up to 150 MB, the SDK's single-request limit) and the dataset is READY once
Fireworks has checked them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ftkit._managed import create_exactly_once
from ftkit._polling import Backoff
from ftkit.data.report import Issue, ValidationReport
from ftkit.errors import DatasetError, ProviderError
from ftkit.provider import JobContext

from ._client import PROVIDER, FireworksApi, resource_id

__all__ = ["MAX_UPLOAD_BYTES", "dataset_id_for", "upload_dataset", "wait_ready"]

#: ``datasets.upload``: "This path can handle file sizes up to 150Mb" (fireworks-ai 1.2.30 docstring)
MAX_UPLOAD_BYTES = 150 * 1024 * 1024
#: how long Fireworks may take to make an uploaded dataset READY before ftkit gives up waiting
READY_TIMEOUT_S = 30 * 60


def dataset_id_for(upload_name: str) -> str:
    """The dataset id of ftkit's content-addressed upload name.

    >>> dataset_id_for("ftkit-train-0123456789abcdef.jsonl")
    'ftkit-train-0123456789abcdef'
    """
    return resource_id(upload_name.removesuffix(".jsonl"))


def upload_dataset(api: FireworksApi, ctx: JobContext, path: Path, *, dataset_id: str) -> str:
    """The name (``accounts/<a>/datasets/<id>``) of a dataset holding exactly ``path``'s bytes, uploading
    them only if Fireworks does not hold them yet (:func:`wait_ready` then waits for its check)."""
    name = api.name("datasets", dataset_id)
    role = "validation" if "-validation-" in dataset_id else "train"
    size = path.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        raise DatasetError(_report(f"{path.name} is {size / 2**20:.0f} MiB; Fireworks takes at most 150 MB in one "
                                   "upload: split the data or upload it with firectl", path), what=f"{role} data")  # fmt: skip
    dataset = _get(api, dataset_id)
    if dataset is None:
        examples = sum(1 for line in path.read_bytes().splitlines() if line.strip())
        dataset = api.once(
            find=lambda c: _find(c, dataset_id),
            create=lambda c: c.datasets.create(dataset_id=dataset_id,
                                               dataset={"user_uploaded": {}, "example_count": str(examples)}),
        )
    if dataset.state != "READY":
        _upload_bytes(api, dataset_id, path)
    else:
        ctx.log(f"Fireworks already holds {path.name} as dataset {dataset_id}; nothing uploaded")
    return name


def _get(api: FireworksApi, dataset_id: str) -> Any | None:
    try:
        return api.safe(lambda c: c.datasets.get(dataset_id))
    except ProviderError as e:
        if e.status_code == 404:
            return None
        raise


def _find(client: Any, dataset_id: str) -> Any | None:
    try:
        return client.datasets.get(dataset_id)
    except Exception as e:  # the SDK's NotFoundError; other errors propagate to the retry policy
        if getattr(e, "status_code", None) == 404:
            return None
        raise


def _upload_bytes(api: FireworksApi, dataset_id: str, path: Path) -> None:
    """Send the bytes once: after an ambiguous failure the dataset is read back, and a READY one (the
    upload did arrive) is not sent again."""

    def ready(client: Any) -> Any | None:
        dataset = _find(client, dataset_id)
        return dataset if dataset is not None and dataset.state == "READY" else None

    def send(client: Any) -> Any:
        return client.datasets.upload(dataset_id, file=(path.name, path.read_bytes(), "application/jsonl"))

    try:
        with api.errors.mapped():
            create_exactly_once(find=lambda: api.errors.retrying(lambda: ready(api.client)),
                                create=lambda: send(api.client), errors=api.errors)
    except ProviderError as e:
        if e.status_code == 400:  # Fireworks checked the file and refused it
            raise DatasetError(_report(str(e), path), what=f"{path.name}") from e
        raise


def wait_ready(api: FireworksApi, dataset_id: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    backoff = Backoff(0.05, 5.0)  # the one polling formula (ftkit._polling)
    while True:
        dataset = api.safe(lambda c: c.datasets.get(dataset_id))
        if dataset.state == "READY":
            return
        if time.monotonic() > deadline:
            raise ProviderError(f"Fireworks dataset {dataset_id} is still {dataset.state} after "
                                f"{READY_TIMEOUT_S // 60} minutes; call start() again later", provider=PROVIDER)  # fmt: skip
        backoff.sleep(progressed=False, deadline=deadline)


def _report(message: str, path: Path) -> ValidationReport:
    issue = Issue(code="fireworks_invalid_dataset", severity="error", message=message, file=path.name,
                  hint="fix the file and start again; `ftkit validate --provider fireworks` checks it locally")  # fmt: skip
    return ValidationReport(ok=False, issues=[issue])
