"""Reading OpenAI jobs back: status mapping, events in chronological order, and the result metrics CSV."""

from __future__ import annotations

import base64
import binascii
import csv
import io
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

from ftkit.types import EventPage, JobEvent, JobState, JobStatus

__all__ = ["STATES", "chronological_events", "job_status", "map_state", "parse_metrics_csv", "to_event"]

log = logging.getLogger("ftkit.providers.openai")

#: every status OpenAI documents. ``pausing``/``paused`` come with the pause/resume endpoints (API reference,
#: POST /v1/fine_tuning/jobs/{id}/pause) though the SDK's Literal lacks them; both are PAUSED, because a
#: pausing job will not end by itself and ``wait()`` must hand control back.
STATES: dict[str, JobState] = {
    "validating_files": JobState.VALIDATING,
    "queued": JobState.QUEUED,
    "pending": JobState.QUEUED,  # Azure OpenAI, which serves this API, says "pending" before a job starts
    "running": JobState.RUNNING,
    "pausing": JobState.PAUSED,
    "paused": JobState.PAUSED,
    "succeeded": JobState.SUCCEEDED,
    "failed": JobState.FAILED,
    "cancelled": JobState.CANCELLED,
}

#: how many events to ask for per page (OpenAI's default is 20)
EVENTS_PAGE_SIZE = 100


def map_state(raw: str | None) -> JobState:
    """OpenAI's status as ftkit's state. A status OpenAI adds later is kept non-terminal (running)
    rather than guessed terminal: ftkit keeps polling and ``raw_status`` shows the new word."""
    state = STATES.get(raw or "")
    if state is None:
        log.warning("unknown OpenAI job status %r; treating it as still running", raw)
        return JobState.RUNNING
    return state


def _time(seconds: int | float | None) -> datetime | None:
    return datetime.fromtimestamp(seconds, timezone.utc) if seconds is not None else None


def job_status(job: Any, *, job_id: str, step: int | None = None, total_steps: int | None = None,
               provider: str = "openai") -> JobStatus:
    """A ``FineTuningJob`` as ftkit's :class:`JobStatus` (``trained_tokens`` once it has ended)."""
    error = None
    if job.error is not None and (job.error.message or job.error.code):
        where = f" ({job.error.param})" if job.error.param else ""
        error = f"{job.error.message or job.error.code}{where}"
    return JobStatus(
        job_id=job_id,
        provider=provider,
        state=map_state(job.status),
        raw_status=job.status or "unknown",
        remote_id=job.id,
        created_at=_time(job.created_at),
        finished_at=_time(job.finished_at),
        step=step,
        total_steps=total_steps,
        trained_tokens=job.trained_tokens,
        error=error,
        model_id=job.fine_tuned_model,
    )


_LEVELS = {"info": "info", "warn": "warning", "warning": "warning", "error": "error", "debug": "debug"}


def to_event(event: Any) -> JobEvent:
    """An OpenAI ``FineTuningJobEvent`` as a :class:`JobEvent`; metrics come from its untyped ``data``."""
    data = event.data if isinstance(event.data, dict) else {}
    step, total = _int(data.get("step")), _int(data.get("total_steps"))
    metrics = {
        key: float(value)
        for key, value in data.items()
        if key not in ("step", "total_steps") and isinstance(value, (int, float)) and not isinstance(value, bool)
    }
    return JobEvent(
        id=event.id,
        time=_time(event.created_at) or datetime.now(timezone.utc),
        level=_LEVELS.get(event.level or "info", "info"),  # type: ignore[arg-type]
        message=event.message or "",
        type=event.type,
        step=step,
        total_steps=total,
        metrics=metrics,
    )


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def chronological_events(fetch: Callable[[str | None], Any], *, after: str | None) -> EventPage:
    """The events newer than the event id ``after``, oldest first, as one page.

    OpenAI lists events newest first and pages *backwards* (``after=<id>`` gives older events), so
    ftkit reads from the newest down to the cursor and reverses. Paging by id never skips or repeats an
    event, also when new ones arrive between pages; duplicates are dropped anyway. ``fetch(after_id)``
    returns one SDK page.
    """
    seen: set[str] = set()
    newest_first: list[Any] = []
    page_after: str | None = None
    while True:
        page = fetch(page_after)
        items = list(page.data or [])
        reached = False
        for item in items:
            if item.id == after:
                reached = True
                break
            if item.id not in seen:
                seen.add(item.id)
                newest_first.append(item)
        if reached or not items or not page.has_more:
            break
        page_after = items[-1].id
    events = [to_event(e) for e in reversed(newest_first)]
    cursor = events[-1].id if events else after
    return EventPage(events=events, cursor=cursor, has_more=False)


def latest_step(events: Iterable[Any]) -> tuple[int | None, int | None]:
    """(step, total_steps) of the newest metrics event in a newest-first list."""
    for event in events:
        data = event.data if isinstance(event.data, dict) else {}
        if _int(data.get("step")) is not None:
            return _int(data.get("step")), _int(data.get("total_steps"))
    return None, None


def parse_metrics_csv(content: bytes) -> dict[str, float]:
    """The final value of every column of OpenAI's result CSV (``step, train_loss, ...``), plus ``steps``.

    OpenAI has served this file base64-encoded; both forms are read.

    >>> parse_metrics_csv(b"step,train_loss,valid_loss\\n1,2.0,\\n2,1.5,1.7\\n")
    {'train_loss': 1.5, 'valid_loss': 1.7, 'steps': 2.0}
    """
    text = _decode(content)
    last: dict[str, float] = {}
    steps = 0
    for row in csv.DictReader(io.StringIO(text)):
        steps += 1
        for key, value in row.items():
            if key is None or key == "step" or value in (None, ""):
                continue
            try:
                last[key.strip()] = float(value)
            except ValueError:
                continue
    if steps:
        last["steps"] = float(steps)
    return last


def _decode(content: bytes) -> str:
    text = content.decode("utf-8", "replace")
    if "," in text.split("\n", 1)[0]:  # a CSV header: served as is
        return text
    try:
        return base64.b64decode(content, validate=False).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return text
