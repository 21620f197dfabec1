"""Bringing OpenAI jobs made outside ftkit in: the job rebuilt from the service, the inventory, file downloads.

What OpenAI *resolved* is read from the job, not what was sent: ``method.<type>.hyperparameters`` holds the
epochs, batch size, learning-rate multiplier (and DPO beta) it actually trained with once ``"auto"`` was
settled, with the deprecated top-level ``hyperparameters`` as the fallback (API reference, FineTuningJob).
The job object has no ``suffix`` field; the suffix is the fourth part of the model name
``ft:<base>:<org>:<suffix>:<id>``.

OpenAI refuses to hand back files uploaded for fine-tuning (``GET /files/{id}/content`` answers 400 "Not allowed
to download files of purpose: fine-tune"; community.openai.com thread 1357013): that refusal is an
``UnsupportedCapabilityError`` telling the user to pass their own copy, which the core checks against the byte
count OpenAI lists. Where a download is allowed, it uses ``GET /files/{id}/content``, streamed to a ``.part`` file with a running sha256 and renamed only
once the byte count matches the file object; OpenAI documents no range requests for file content, so an
interrupted download restarts that file, while files already complete are never fetched again
(:func:`ftkit.migration.keep.keep_data`).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from ftkit.errors import ConfigError, FtkitError, JobNotFoundError, ProviderError, UnsupportedCapabilityError
from ftkit.migration._types import DownloadedFile, ImportedJob, InventoryItem, RemoteFile
from ftkit.spec import JobSpec

from ._status import job_status

__all__ = ["download_file", "import_job", "inventory"]

_METHODS = {"supervised": "sft", "dpo": "dpo"}
#: jobs asked for per page of the listing (OpenAI allows up to 100; the SDK follows ``has_more`` to the end)
PAGE_SIZE = 100
_ROLES = (("train", "training_file"), ("validation", "validation_file"))


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _number(value: Any) -> Any:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def resolved_hyperparameters(job: Any) -> tuple[str, dict[str, Any]]:
    """``(method type, {n_epochs, batch_size, learning_rate_multiplier, beta})`` as OpenAI resolved them."""
    method = _get(job, "method")
    kind = _get(method, "type") or "supervised"
    found = _get(_get(method, kind), "hyperparameters")
    legacy = _get(job, "hyperparameters")
    values: dict[str, Any] = {}
    for key in ("n_epochs", "batch_size", "learning_rate_multiplier", "beta"):
        value = _number(_get(found, key))
        if value is None:
            value = _number(_get(legacy, key))
        if value is not None:
            values[key] = value
    return kind, values


def suffix_of(model_name: str | None) -> str | None:
    """``ft:gpt-4o-mini-2024-07-18:acme:router:AbC1`` -> ``router`` (None when the job had no suffix)."""
    if not model_name or not model_name.startswith("ft:"):
        return None
    parts = model_name.split(":")
    return parts[3] or None if len(parts) >= 5 else None


def import_job(provider: Any, remote_id: str) -> ImportedJob:
    """The OpenAI job ``remote_id`` as ftkit sees it (see the module docstring)."""
    job = _retrieve(provider, remote_id)
    kind, hyper = resolved_hyperparameters(job)
    method = _METHODS.get(kind)
    if method is None:
        raise ConfigError(
            f"OpenAI job {remote_id} is a {kind!r} fine-tune; ftkit imports supervised and DPO jobs only. "
            "Retrain it by hand elsewhere (reinforcement fine-tuning has no counterpart on the other providers)."
        )
    options: dict[str, Any] = {}
    if "learning_rate_multiplier" in hyper:
        options["learning_rate_multiplier"] = float(hyper["learning_rate_multiplier"])
    if method == "dpo" and "beta" in hyper:
        options["beta"] = float(hyper["beta"])
    suffix = suffix_of(job.fine_tuned_model)
    spec = JobSpec(
        provider=provider.name, model=job.model, train=f"{provider.name}-file:{job.training_file}",
        validation=f"{provider.name}-file:{job.validation_file}" if job.validation_file else None,
        method=method, epochs=int(hyper["n_epochs"]) if "n_epochs" in hyper else None,
        batch_size=int(hyper["batch_size"]) if "batch_size" in hyper else None,
        seed=job.seed if isinstance(job.seed, int) else None, suffix=suffix[:40] if suffix else None,
        name=f"imported {remote_id}", options=options,
    )
    status = job_status(job, job_id="", provider=provider.name)
    files = [RemoteFile(role=role, file_id=file_id, **_file_facts(provider, file_id))  # type: ignore[arg-type]
             for role, key in _ROLES if (file_id := _get(job, key))]
    return ImportedJob(
        remote_id=job.id, spec=spec, status=status, fine_tuned_model=job.fine_tuned_model, files=files,
        hyperparameters={"method": kind, **hyper}, trained_tokens=job.trained_tokens,
        created_at=status.created_at, finished_at=status.finished_at,
        provider_data={"imported": True, "train_file": job.training_file, "validation_file": job.validation_file,
                       "organization_id": _get(job, "organization_id"), "resolved_hyperparameters": hyper},
    )


def _retrieve(provider: Any, remote_id: str) -> Any:
    if not remote_id.startswith("ftjob-"):
        raise ConfigError(f"{remote_id!r} is not an OpenAI fine-tuning job id (they start with 'ftjob-'); "
                          "`ftkit migrate inventory` lists yours.")
    try:
        return provider.api.safe(lambda c: c.fine_tuning.jobs.retrieve(remote_id),
                                 not_found=lambda: JobNotFoundError(
                                     remote_id, "OpenAI (for this API key and organisation; "
                                     "`ftkit migrate inventory` lists the jobs it can see)"))
    except ProviderError as e:
        raise _no_permission(e) from e


def _no_permission(error: FtkitError) -> FtkitError:
    if getattr(error, "status_code", None) == 403:
        return ConfigError(
            "OpenAI refused to show this organisation's fine-tuning jobs (permission denied). Use a key of the "
            f"organisation and project that owns the job, with read access to fine-tuning and files. ({error})")
    return error


def _file_facts(provider: Any, file_id: str) -> dict[str, Any]:
    try:
        obj = provider.api.safe(lambda c: c.files.retrieve(file_id))
    except ProviderError as e:
        if e.status_code == 404:
            return {"exists": False}
        raise _no_permission(e) from e
    return {"exists": True, "bytes": obj.bytes, "filename": obj.filename}


def inventory(provider: Any) -> list[InventoryItem]:
    """Every fine-tuning job (all pages, newest first) and every fine-tuned model the key can see."""
    try:
        jobs = list(provider.api.safe(lambda c: list(c.fine_tuning.jobs.list(limit=PAGE_SIZE))))
        models = provider.api.safe(lambda c: list(c.models.list()))
    except ProviderError as e:
        raise _no_permission(e) from e
    from ._winddown import parse_shutdown_date

    shutdowns = {m.id: parse_shutdown_date(_get(m, "shutdown_date")) for m in models}
    made_by = {j.fine_tuned_model: j.id for j in jobs if j.fine_tuned_model}
    items = []
    for job in jobs:
        kind, hyper = resolved_hyperparameters(job)
        status = job_status(job, job_id="", provider=provider.name)
        model_name = job.fine_tuned_model
        shutdown = shutdowns.get(model_name) if model_name else None
        items.append(InventoryItem(
            kind="job", id=job.id, base_model=job.model, status=job.status, created_at=status.created_at,
            trained_tokens=job.trained_tokens, method=_METHODS.get(kind, kind),
            epochs=hyper.get("n_epochs"), batch_size=hyper.get("batch_size"),
            learning_rate_multiplier=hyper.get("learning_rate_multiplier"), beta=hyper.get("beta"),
            fine_tuned_model=model_name,
            files=[RemoteFile(role=role, file_id=file_id, **_file_facts(provider, file_id))  # type: ignore[arg-type]
                   for role, key in _ROLES if (file_id := _get(job, key))],
            shutdown_date=shutdown or shutdowns.get(job.model),
            shutdown_source="OpenAI model listing" if (shutdown or shutdowns.get(job.model)) else None,
        ))
    for model in models:
        if not model.id.startswith("ft:"):
            continue
        base = model.id.split(":")[1]
        shutdown = shutdowns.get(model.id) or shutdowns.get(base)
        items.append(InventoryItem(
            kind="model", id=model.id, base_model=base, status="available", job_id=made_by.get(model.id),
            shutdown_date=shutdown, shutdown_source="OpenAI model listing" if shutdown else None,
        ))
    return items


def download_file(provider: Any, file_id: str, dest: Path) -> DownloadedFile:
    """Stream ``file_id``'s content to ``dest`` (via ``dest.part``), checking the byte count OpenAI lists."""
    try:
        expected = provider.api.safe(lambda c: c.files.retrieve(file_id)).bytes
    except ProviderError as e:
        if e.status_code == 404:
            raise ProviderError(f"{file_id} was deleted from OpenAI, so it cannot be downloaded",
                                provider=provider.name, status_code=404) from e
        raise _no_permission(e) from e
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")

    def fetch(client: Any) -> tuple[int, str]:
        digest, size = hashlib.sha256(), 0
        with client.files.with_streaming_response.content(file_id) as response, part.open("wb") as out:
            for chunk in response.iter_bytes(1 << 20):
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        return size, digest.hexdigest()

    try:
        size, sha256 = provider.api.safe(fetch)
    except ProviderError as e:
        part.unlink(missing_ok=True)
        if e.status_code == 400 and "not allowed to download" in str(e).lower():
            raise UnsupportedCapabilityError(
                provider.name, f"hand back {file_id} (OpenAI never releases files uploaded for fine-tuning)",
                "pass your own copy of the file (`ftkit migrate ... --train FILE`); ftkit checks it against the "
                "byte count OpenAI lists") from e
        raise
    if expected is not None and size != expected:
        part.unlink(missing_ok=True)
        raise ProviderError(f"downloaded {size} bytes of {file_id}, OpenAI lists {expected}; run the command again",
                            provider=provider.name)
    os.replace(part, dest)
    return DownloadedFile(file_id=file_id, path=str(dest), bytes=size, sha256=sha256)
