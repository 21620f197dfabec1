"""Keeping an imported job's data: its training and validation files, downloaded once and read back as chat data.

A service that never releases its training files (OpenAI refuses to) says so through
``UnsupportedCapabilityError``; the user's own copy is then taken instead, and checked against the byte count the
service lists, so the retrain rests on the file the job trained on. Files land in
``$FTKIT_HOME/imports/<provider>/<remote id>/`` (``train.raw.jsonl`` as the service holds it, a
``manifest.json`` with each file's sha256 and size, and ``train.jsonl``: ftkit's canonical chat rows), so the
retrain never depends on the service keeping them. A file already complete (its manifest checksum matches the
bytes on disk) is never downloaded again; one cut off mid-way is fetched again from the start, because its
``.part`` never became the real file. The stored spec of the job then points at the chat copies.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from ftkit._hashing import sha256_file
from ftkit.errors import ConfigError, ProviderError, UnsupportedCapabilityError
from ftkit.migration.imports import imported_facts
from ftkit.provider import require_capability
from ftkit.types import Capability

if TYPE_CHECKING:
    from ftkit.job import FineTuneJob

__all__ = ["KeptData", "import_dir", "keep_data"]

log = logging.getLogger("ftkit.migration")


class KeptData(BaseModel):
    """Where an imported job's data now lives on disk (chat JSONL), and what could not be kept."""

    model_config = ConfigDict(extra="forbid")

    folder: str
    train: str | None = None
    validation: str | None = None
    sha256: dict[str, str] = Field(default_factory=dict, description="role -> sha256 of the downloaded file")
    missing: dict[str, str] = Field(default_factory=dict, description="role -> why it could not be kept")


def import_dir(job: FineTuneJob) -> Path:
    """``$FTKIT_HOME/imports/<provider>/<remote id>`` (next to the job store)."""
    return job.store.path.parent / "imports" / job.spec.provider / str(job.record.remote_id)


def keep_data(job: FineTuneJob, *, train: str | Path | None = None, validation: str | Path | None = None) -> KeptData:
    """Download (once) and convert the imported job's files; ``train``/``validation`` are the user's own copies,
    for a service that deleted its files or never releases them (checked against the byte count it lists).
    Raises a clear error when there is no training data at all."""
    facts = imported_facts(job)
    if facts is None:
        raise ConfigError(f"Job {job.id} was not imported: import it first (FineTuneJob.import_remote).")
    require_capability(job.provider, Capability.IMPORT, verb="download data files")
    folder = import_dir(job)
    folder.mkdir(parents=True, exist_ok=True)
    manifest_path = folder / "manifest.json"
    manifest: dict[str, Any] = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    kept = KeptData(folder=str(folder))
    for remote in facts.files:
        raw = folder / f"{remote.role}.raw.jsonl"
        own = {"train": train, "validation": validation}.get(remote.role)
        expected = remote.bytes  # the user's copy must be the file the service trained on
        local = getattr(job.spec, remote.role, None)
        if own is None and isinstance(local, str) and Path(local).is_file():
            own, expected = local, None  # a job ftkit started: the user's data, before ftkit converted it
        try:
            sha = _kept_copy(job, remote.file_id, raw, manifest.get(remote.role), own, expected)
        except (ProviderError, UnsupportedCapabilityError) as e:
            if isinstance(e, ProviderError) and e.status_code not in (404, 410):
                raise  # a network or service fault: run the command again
            kept.missing[remote.role] = str(e)
            continue
        manifest[remote.role] = {**manifest.get(remote.role, {}), "file_id": remote.file_id, "sha256": sha,
                                 "bytes": raw.stat().st_size}
        _write_json(manifest_path, manifest)
        chat = folder / f"{remote.role}.jsonl"
        if not chat.is_file() or manifest[remote.role].get("chat_of") != sha:
            from ftkit import data

            data.convert(str(raw), "chat", method=job.spec.method.value, out=chat,
                         overwrite=True)  # the migration folder's own file, stale: its source changed
            manifest[remote.role]["chat_of"] = sha
            _write_json(manifest_path, manifest)
        kept.sha256[remote.role] = sha
        setattr(kept, remote.role, str(chat))
    if kept.train is None:
        why = kept.missing.get("train", "the job names no training file")
        raise ConfigError(
            f"The training data of {job.record.remote_id} cannot be kept: {why}. Pass your own copy of the "
            "training file (`--train FILE`, or keep_data(job, train=...)) to retrain from it.")
    if "validation" in kept.missing:
        kept.missing["validation"] += " (pass `--validation FILE` to keep it; the held-out set is chosen without it)"
    for role, why in kept.missing.items():
        log.warning("%s file of %s not kept: %s", role, job.record.remote_id, why)
    # an imported spec names the service's files until now; a job ftkit started keeps the user's own paths
    updates = {role: path for role, path in (("train", kept.train), ("validation", kept.validation))
               if not (isinstance(getattr(job.spec, role), str) and Path(getattr(job.spec, role)).is_file())}
    if any(getattr(job.spec, role) != path for role, path in updates.items()):
        job.spec = job.spec.model_copy(update=updates)
        job.store.update_job(job.id, spec=job.spec.to_dict())
    return kept


def _kept_copy(job: FineTuneJob, file_id: str, raw: Path, known: dict[str, Any] | None, own: str | Path | None,
               expected: int | None) -> str:
    """The sha256 of the complete local copy of ``file_id`` at ``raw``, downloading it only when needed."""
    if raw.is_file() and known and known.get("file_id") == file_id and sha256_file(raw) == known.get("sha256"):
        return str(known["sha256"])
    if own is not None:
        source = Path(own)
        if not source.is_file():
            raise ConfigError(f"No data file at {source}.")
        if expected is not None and source.stat().st_size != expected:
            raise ConfigError(
                f"{source} is {source.stat().st_size:,} bytes but {job.spec.provider}'s {file_id} is {expected:,}: "
                "it is not the file the job trained on. Give the exact file you uploaded, so the retrain and the "
                "comparison rest on the same data.")
        tmp = raw.with_name(raw.name + ".part")
        tmp.write_bytes(source.read_bytes())
        os.replace(tmp, raw)
        return sha256_file(raw)
    with job._provider_call():
        downloaded = job.provider.download_file(file_id, raw)
    if sha256_file(raw) != downloaded.sha256:  # the bytes on disk are not what came over the wire
        raw.unlink(missing_ok=True)
        raise ConfigError(f"The copy of {file_id} at {raw} does not match its checksum; run the command again.")
    return downloaded.sha256


def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)
