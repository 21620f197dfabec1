"""Typed results shared by every provider: job state, status, events, estimates and generations.

All of them are pydantic v2 models that round-trip through JSON, so the CLI, the job store and a
process that re-attaches see exactly what the original process saw.
"""

from __future__ import annotations

import enum
from datetime import date, datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Capability",
    "EventPage",
    "Generation",
    "GenerationSettings",
    "JobEvent",
    "JobState",
    "JobStatus",
    "Message",
    "utcnow",
]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, use_enum_values=False)


class JobState(str, enum.Enum):
    """ftkit's normalised job state; every provider status maps onto one of these."""

    PENDING = "pending"
    VALIDATING = "validating"
    QUEUED = "queued"
    RUNNING = "running"
    #: stopped by the user or the provider and waiting for ``resume()`` (not terminal, not progressing)
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)

    def __str__(self) -> str:
        return self.value


class Capability(str, enum.Enum):
    """What a provider can do; the facade checks these before calling it."""

    SFT = "sft"
    DPO = "dpo"
    LORA = "lora"
    QLORA = "qlora"
    FULL = "full"
    CANCEL = "cancel"
    PAUSE = "pause"
    RESUME = "resume"
    GENERATE = "generate"
    LOSS = "loss"
    MERGE = "merge"
    EXPORT = "export"
    DOWNLOAD = "download"
    DEPLOY = "deploy"
    #: a job created outside ftkit (in the service's console or SDK) can be brought into the store
    IMPORT = "import"
    #: the organisation's fine-tuning jobs and fine-tuned models can be listed (every page)
    INVENTORY = "inventory"

    def __str__(self) -> str:
        return self.value


class JobStatus(_Model):
    """A snapshot of a job, normalised across providers.

    ``raw_status`` keeps the provider's own word (``"user_error"``, ``"validating_files"``...), so
    nothing the provider said is lost by the mapping onto :class:`JobState`.
    """

    job_id: str = Field(description="ftkit's job id (the same on every provider)")
    provider: str
    state: JobState
    raw_status: str = Field(description="the provider's own status string")
    remote_id: str | None = Field(default=None, description="the provider's job id, once it exists")
    created_at: datetime | None = None
    updated_at: datetime | None = None
    finished_at: datetime | None = None
    step: int | None = None
    total_steps: int | None = None
    trained_tokens: int | None = Field(default=None, description="tokens the provider trained on (billed)")
    cost_usd: float | None = Field(default=None, description="what the provider reports the job cost, in USD")
    error: str | None = None
    model_id: str | None = Field(default=None, description="the trained model's name or path, on success")
    model_shutdown: date | None = Field(
        default=None, description="when the provider stops serving the base model and its fine-tunes, in its own "
                                  "words (a provider records it as provider_data['model_shutdown_date'])")

    @property
    def is_terminal(self) -> bool:
        return self.state.is_terminal

    def shutdown_notice(self, today: date | None = None) -> str | None:
        """``"2027-01-14 (44 days left)"`` when the provider announced a shutdown, else None."""
        if self.model_shutdown is None:
            return None
        days = (self.model_shutdown - (today or date.today())).days
        left = f"{days} days left" if days >= 0 else f"shut down {-days} days ago"
        return f"{self.model_shutdown.isoformat()} ({left})"


class JobEvent(_Model):
    """One line of a job's log, normalised across providers.

    ``id`` is unique within a job and stable across calls, which is how ftkit never yields an event
    twice, also after ``FineTuneJob.attach``.
    """

    id: str
    time: datetime
    level: Literal["debug", "info", "warning", "error"] = "info"
    message: str
    type: str | None = Field(default=None, description="provider event type, e.g. 'metrics', 'checkpoint_save'")
    step: int | None = None
    total_steps: int | None = None
    metrics: dict[str, float] = Field(default_factory=dict)

    def __str__(self) -> str:
        where = f"[{self.step}/{self.total_steps}] " if self.step is not None and self.total_steps else ""
        metrics = " ".join(f"{k}={v:.4g}" for k, v in self.metrics.items())
        return f"{self.time:%H:%M:%S} {self.level:<7} {where}{self.message}" + (f" {metrics}" if metrics else "")


class EventPage(_Model):
    """One page of events after a cursor, oldest first. Following and looping live in the facade."""

    events: list[JobEvent] = Field(default_factory=list)
    cursor: str | None = Field(default=None, description="pass as `after=` to get the next page")
    has_more: bool = False


class Message(BaseModel):
    """A chat message as ftkit passes it to a model for generation."""

    model_config = ConfigDict(extra="allow")
    role: str
    content: str | None = None


class GenerationSettings(_Model):
    """Decoding settings; the same for every provider so comparisons are fair (greedy by default)."""

    max_new_tokens: int = Field(default=128, ge=1)
    temperature: float = Field(default=0.0, ge=0.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    seed: int | None = 0
    stop: list[str] | None = None
    batch_size: int = Field(default=16, ge=1, description="local: prompts per forward pass")
    concurrency: int = Field(default=8, ge=1, description="managed: requests in flight")
    requests_per_minute: int | None = Field(default=None, ge=1, description="managed: rate limit")

    def cache_key(self) -> dict[str, Any]:
        """The settings that change the output (not batch size or concurrency)."""
        return self.model_dump(include={"max_new_tokens", "temperature", "top_p", "seed", "stop"})


class Generation(_Model):
    """One model answer, with what it cost in tokens and time."""

    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float | None = None
