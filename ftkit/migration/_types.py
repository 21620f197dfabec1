"""What a provider answers the migration hooks with: a job rebuilt from the service, and its inventory.

These are the return types of :meth:`ftkit.provider.Provider.import_job`, :meth:`~ftkit.provider.Provider.inventory`
and :meth:`~ftkit.provider.Provider.download_file`; the core (:mod:`ftkit.migration`) turns them into store
records, tables and kept data without knowing which service they came from.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ftkit.spec import JobSpec
from ftkit.types import JobStatus

__all__ = ["DownloadedFile", "ImportedJob", "InventoryItem", "RemoteFile"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RemoteFile(_Model):
    """A data file a remote job was trained (or validated) on, as the service holds it."""

    role: Literal["train", "validation"]
    file_id: str
    exists: bool | None = Field(default=None, description="whether the service still holds it (None: not asked)")
    bytes: int | None = None
    filename: str | None = None


class DownloadedFile(_Model):
    """A remote file written to disk in full, with the checksum of what was written."""

    file_id: str
    path: str
    bytes: int
    sha256: str


class ImportedJob(_Model):
    """A job made outside ftkit, as the service describes it now.

    ``spec`` is the job rebuilt with the settings the service actually *resolved* (epochs, batch size,
    learning-rate multiplier, beta, seed, suffix), not the ``"auto"`` the user may have sent; its ``train`` /
    ``validation`` are placeholders the core replaces with the kept local copies. ``hyperparameters`` keeps
    the service's own names and values, so nothing it said is lost.
    """

    remote_id: str
    spec: JobSpec
    status: JobStatus
    fine_tuned_model: str | None = None
    files: list[RemoteFile] = Field(default_factory=list)
    hyperparameters: dict[str, Any] = Field(default_factory=dict, description="the service's resolved values")
    trained_tokens: int | None = None
    created_at: datetime | None = None
    finished_at: datetime | None = None
    provider_data: dict[str, Any] = Field(default_factory=dict, description="what attach/status/result need")

    def file(self, role: str) -> RemoteFile | None:
        return next((f for f in self.files if f.role == role), None)


class InventoryItem(_Model):
    """One fine-tuning job or one fine-tuned model of the organisation."""

    kind: Literal["job", "model"]
    id: str = Field(description="the job id, or the fine-tuned model's name")
    base_model: str | None = None
    status: str | None = Field(default=None, description="the service's word (jobs); 'available' for models")
    created_at: datetime | None = None
    trained_tokens: int | None = None
    method: str | None = None
    epochs: int | None = None
    batch_size: int | None = None
    learning_rate_multiplier: float | None = None
    beta: float | None = None
    fine_tuned_model: str | None = None
    job_id: str | None = Field(default=None, description="for a model: the job that made it, when known")
    files: list[RemoteFile] = Field(default_factory=list)
    shutdown_date: date | None = Field(default=None, description="the service's own shutdown date for the model")
    shutdown_source: str | None = Field(default=None, description="where shutdown_date came from")
    days_left: int | None = Field(default=None, description="days until the model stops answering (core fills)")
    ftkit_job: str | None = Field(default=None, description="the ftkit job id when already imported (core fills)")
