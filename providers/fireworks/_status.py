"""Fireworks job states and progress as ftkit's :class:`JobStatus`, and the job's log as :class:`JobEvent`\\ s.

Fireworks has no events endpoint for fine-tuning jobs. The log ftkit shows is built from what the job
reports, each entry with an id that never changes: ``created`` (``createTime``), one ``metrics`` entry
per training step from the job's metrics file (``metricsFileSignedUrl``, JSON lines of step, epoch and
loss), and the end (``completedTime`` with the final state and ``status.message``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ftkit.types import JobEvent, JobState, JobStatus

__all__ = ["STATES", "job_setting", "job_status", "map_state", "metrics_events", "parse_metrics", "raw_state"]

#: every ``JOB_STATE_*`` of the SDK's Literal; anything else (a newer state) counts as running
STATES: dict[str, JobState] = {
    "JOB_STATE_UNSPECIFIED": JobState.PENDING,
    "JOB_STATE_CREATING": JobState.PENDING,
    "JOB_STATE_PENDING": JobState.QUEUED,
    "JOB_STATE_CREATING_INPUT_DATASET": JobState.VALIDATING,
    "JOB_STATE_VALIDATING": JobState.VALIDATING,
    "JOB_STATE_RE_QUEUEING": JobState.QUEUED,
    "JOB_STATE_RUNNING": JobState.RUNNING,
    "JOB_STATE_WRITING_RESULTS": JobState.RUNNING,
    "JOB_STATE_CANCELLING": JobState.RUNNING,  # not over until it says CANCELLED
    "JOB_STATE_IDLE": JobState.PAUSED,
    "JOB_STATE_PAUSED": JobState.PAUSED,
    "JOB_STATE_COMPLETED": JobState.SUCCEEDED,
    "JOB_STATE_EARLY_STOPPED": JobState.SUCCEEDED,  # stopped because validation loss stopped improving
    "JOB_STATE_FAILED": JobState.FAILED,
    "JOB_STATE_EXPIRED": JobState.FAILED,
    "JOB_STATE_CANCELLED": JobState.CANCELLED,
    "JOB_STATE_DELETING": JobState.CANCELLED,
    "JOB_STATE_DELETING_CLEANING_UP": JobState.CANCELLED,
}


def job_setting(job: Any, name: str) -> Any:
    """A training setting of either job kind: on the job itself (SFT) or in its ``training_config`` (DPO)."""
    value = getattr(job, name, None)
    return value if value is not None else getattr(getattr(job, "training_config", None), name, None)


def raw_state(job: Any) -> str:
    return str(getattr(job, "state", None) or "JOB_STATE_UNSPECIFIED")


def map_state(raw: str) -> JobState:
    """>>> map_state("JOB_STATE_EARLY_STOPPED"), map_state("JOB_STATE_SOMETHING_NEW")
    (<JobState.SUCCEEDED: 'succeeded'>, <JobState.RUNNING: 'running'>)
    """
    return STATES.get(raw, JobState.RUNNING)


def job_status(job: Any, *, job_id: str, provider: str, price_per_m_usd: float | None = None) -> JobStatus:
    raw = raw_state(job)
    state = map_state(raw)
    progress = getattr(job, "job_progress", None)
    percent = getattr(progress, "percent", None)
    tokens = getattr(progress, "input_tokens", None) if state.is_terminal else None
    status = getattr(job, "status", None)
    error = None
    if state is JobState.FAILED:
        error = (getattr(status, "message", None) or f"Fireworks reports {raw}") + \
            " (see the job in https://app.fireworks.ai/dashboard/fine-tuning)"
    cost = _usd(getattr(job, "estimated_cost", None)) if state.is_terminal else None
    return JobStatus(
        job_id=job_id,
        provider=provider,
        state=state,
        raw_status=raw,
        remote_id=str(job.name).rsplit("/", 1)[-1] if getattr(job, "name", None) else None,
        created_at=getattr(job, "create_time", None),
        updated_at=getattr(job, "update_time", None),
        finished_at=getattr(job, "completed_time", None) if state.is_terminal else None,
        step=percent,
        total_steps=100 if percent is not None else None,  # Fireworks reports percent, not steps
        trained_tokens=tokens,
        cost_usd=cost,
        error=error,
        model_id=job_setting(job, "output_model") if state is JobState.SUCCEEDED else None,
    )


def _usd(money: Any) -> float | None:
    """A ``google.type.Money``-like ``{currencyCode, units, nanos}`` in US dollars."""
    if money is None or (getattr(money, "currency_code", None) or "USD") != "USD":
        return None
    units = int(getattr(money, "units", None) or 0)
    nanos = int(getattr(money, "nanos", None) or 0)
    return round(units + nanos / 1e9, 9)


def parse_metrics(text: str) -> list[dict[str, Any]]:
    """The metrics file: one JSON object per line; lines that are not objects are skipped."""
    rows = []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def metrics_events(job: Any, metrics: list[dict[str, Any]]) -> list[JobEvent]:
    """The job's log, oldest first, with stable ids (see the module docstring)."""
    created: datetime | None = getattr(job, "create_time", None)
    if created is None:
        return []
    events = [JobEvent(id="created", time=created, message=f"created on {job_setting(job, 'base_model') or 'a warm start'}",
                       type="status")]  # fmt: skip
    # finished jobs spread steps up to their end, so a second read of a finished job's log is identical
    updated: datetime = getattr(job, "completed_time", None) or getattr(job, "update_time", None) or created
    steps = [m for m in metrics if isinstance(m.get("step"), int)]
    for index, row in enumerate(steps):
        numbers = {k: float(v) for k, v in row.items() if isinstance(v, int | float) and k not in ("step", "epoch")}
        # the file carries no times: steps are spread between creation and the last update, in order
        when = created + (updated - created) * ((index + 1) / (len(steps) + 1))
        events.append(JobEvent(id=f"step-{row['step']}", time=when, type="metrics", step=row["step"],
                               message=f"step {row['step']} (epoch {row.get('epoch', '?')})", metrics=numbers))  # fmt: skip
    raw = raw_state(job)
    finished = getattr(job, "completed_time", None)
    if map_state(raw).is_terminal and finished is not None:
        message = getattr(getattr(job, "status", None), "message", None) or ""
        level = "error" if map_state(raw) is JobState.FAILED else "info"
        events.append(JobEvent(id=f"end-{raw}", time=max(finished, events[-1].time), level=level, type="status",
                               message=f"{raw}{': ' + message if message else ''}"))  # fmt: skip
    return events
