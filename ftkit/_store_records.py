"""What the job store holds, as the facade sees it: one typed record per row, and the ids rows get.

Strict when built (a misspelt field is an error), lenient when :mod:`ftkit.store` reads them back
(``extra="ignore"``: a column or JSON key a newer ftkit added is skipped, never fatal).
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ftkit.errors import StoreError
from ftkit.spec import JobSpec
from ftkit.types import JobState, JobStatus, utcnow

__all__ = ["DeploymentRecord", "JobRecord", "new_deployment_id", "new_job_id", "status_of"]


class JobRecord(BaseModel):
    """One row of the jobs table, as the facade sees it.

    Strict when built (a typo is an error), lenient when read back: the store validates rows with
    ``extra="ignore"``, so columns or JSON keys a newer ftkit added are skipped, never fatal.
    """

    model_config = ConfigDict(extra="forbid")

    id: str
    provider: str
    name: str | None = None
    state: JobState
    raw_status: str
    remote_id: str | None = None
    spec: dict[str, Any]
    provider_data: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    step: int | None = None
    total_steps: int | None = None
    trained_tokens: int | None = None
    model_id: str | None = None
    event_cursor: str | None = None
    estimate: dict[str, Any] | None = None
    actual: dict[str, Any] | None = Field(default=None, description="what the provider reported: tokens, cost")
    result: dict[str, Any] | None = Field(default=None, description="the TrainedModel, once the job succeeded")
    submit_owner: str | None = None
    submitted_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None

    def job_spec(self) -> JobSpec:
        """The stored spec, validated strictly: a setting dropped here would change what a re-submission
        trains, so a spec this ftkit cannot read is a clear :class:`StoreError`, never a silent default."""
        try:
            return JobSpec.model_validate(self.spec)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "spec"
            raise StoreError(
                f"Job {self.id} was recorded with settings this ftkit cannot read ({where}: {first['msg']}); "
                "it was probably started by a newer ftkit: upgrade ftkit (pip install -U ftkit) to attach to it."
            ) from e


class DeploymentRecord(BaseModel):
    """One row of the deployments table: a paid endpoint serving a fine-tune, recorded before it exists.

    ``state`` is a :class:`ftkit.deployment.DeploymentState` value; ``deleted_at`` is set once the
    provider confirmed the deletion, so "active" (possibly billed) means ``deleted_at`` is empty.
    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="ftkit's deployment id, 'dep-...'")
    provider: str
    model_id: str = Field(description="the fine-tune it serves")
    job_id: str | None = Field(default=None, description="the ftkit job that trained it, when known")
    remote_id: str | None = Field(default=None, description="the provider's deployment id, once it exists")
    state: str = "creating"
    serving_id: str | None = Field(default=None, description="the model name inference calls send")
    price_per_hour: float | None = Field(default=None, description="USD per hour while it exists")
    settings: dict[str, Any] = Field(default_factory=dict, description="what the user asked for (replicas...)")
    provider_data: dict[str, Any] = Field(default_factory=dict)
    created_by: str = Field(default="user", description="'user', 'evaluation', 'compare'...")
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    deleted_at: datetime | None = None

    @property
    def is_active(self) -> bool:
        """Whether the provider may still be billing for it."""
        return self.deleted_at is None and self.state != "deleted"


def status_of(record: JobRecord) -> JobStatus:
    """The JobStatus a stored record describes (no provider call)."""
    return JobStatus(
        job_id=record.id,
        provider=record.provider,
        state=record.state,
        raw_status=record.raw_status,
        remote_id=record.remote_id,
        created_at=record.created_at,
        updated_at=record.updated_at,
        finished_at=record.finished_at,
        step=record.step,
        total_steps=record.total_steps,
        trained_tokens=record.trained_tokens,
        cost_usd=(record.actual or {}).get("cost_usd"),
        error=record.error,
        model_id=record.model_id,
        model_shutdown=_date_or_none(record.provider_data.get(MODEL_SHUTDOWN_KEY)),
    )


#: the ``provider_data`` key under which a provider records when its service stops serving the job's model
MODEL_SHUTDOWN_KEY = "model_shutdown_date"


def _date_or_none(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:  # written by another ftkit or by hand: not a date we can show
        return None


def new_job_id() -> str:
    """``ftk-20261122-053012-a1b2c3``: sortable by creation time, unique across processes."""
    now = datetime.now(timezone.utc)
    return f"ftk-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def new_deployment_id() -> str:
    """``dep-20261122-053012-a1b2c3``: sortable by creation time, unique across processes."""
    now = datetime.now(timezone.utc)
    return f"dep-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
