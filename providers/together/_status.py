"""Together's job statuses and events, normalised to ftkit's :class:`JobStatus` and :class:`JobEvent`.

Together's SDK layers disagree on spelling (``"user_error"`` is missing from the generated Literal,
the hand-written enums use UPPERCASE event types and ``Info``/``Warning`` levels), so everything is
compared case-insensitively, and a status ftkit does not know yet is kept raw and treated as still
running rather than guessed to be an end.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import datetime, timezone
from typing import Any

from ftkit.types import EventPage, JobEvent, JobState

__all__ = ["EVENTS_PAGE_SIZE", "event_page", "map_state", "normalise_events", "raw_value"]

EVENTS_PAGE_SIZE = 200

_STATES: dict[str, JobState] = {
    "pending": JobState.PENDING,
    "queued": JobState.QUEUED,
    "running": JobState.RUNNING,
    "compressing": JobState.RUNNING,
    "uploading": JobState.RUNNING,
    "cancel_requested": JobState.RUNNING,  # still running until Together confirms
    "cancelled": JobState.CANCELLED,
    "error": JobState.FAILED,
    "user_error": JobState.FAILED,
    "completed": JobState.SUCCEEDED,
}
_LEVELS = {
    "": "info",
    "info": "info",
    "legacy_info": "info",
    "warning": "warning",
    "warn": "warning",
    "legacy_iwarning": "warning",
    "error": "error",
    "legacy_ierror": "error",
    "debug": "debug",
}
#: hand-written (UPPERCASE) event types whose lowercase form differs from the generated one
_TYPE_ALIASES = {"compressing_model": "model_compressing"}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def raw_value(value: Any) -> str:
    """A wire enum (SDK enum member or plain string) as a lowercase string."""
    value = getattr(value, "value", value)
    return str(value or "").strip().lower()


def map_state(raw_status: Any) -> JobState:
    """``"user_error"`` -> FAILED; an unknown, future status -> RUNNING (never a guessed end).

    >>> map_state("COMPLETED"), map_state("user_error"), map_state("paused_for_maintenance")
    (<JobState.SUCCEEDED: 'succeeded'>, <JobState.FAILED: 'failed'>, <JobState.RUNNING: 'running'>)
    """
    return _STATES.get(raw_value(raw_status), JobState.RUNNING)


def parse_time(value: Any) -> datetime | None:
    """Together sends ISO strings (``...Z`` or with an offset), epoch seconds, or parsed datetimes."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    text = str(value).strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _field(event: Any, name: str) -> Any:
    return event.get(name) if isinstance(event, dict) else getattr(event, name, None)


def normalise_events(raw_events: list[Any]) -> list[JobEvent]:
    """Together's event list as ftkit events, oldest first, each with a stable unique id.

    Together's events carry no id, so the id is a digest of what the event says, numbered when the
    same event occurs twice; it is the same on every read and in every process.
    """
    seen: Counter[str] = Counter()
    rows: list[tuple[datetime, int, JobEvent]] = []
    for index, event in enumerate(raw_events):
        if isinstance(event, str):  # some job payloads list events as bare messages
            event = {"message": event}
        created = _field(event, "created_at")
        message = str(_field(event, "message") or "")
        kind = raw_value(_field(event, "type"))
        kind = _TYPE_ALIASES.get(kind, kind) or None
        step = _field(event, "step")
        digest = hashlib.sha256(f"{created}|{kind}|{step}|{message}".encode()).hexdigest()[:16]
        seen[digest] += 1
        event_id = f"tg-{digest}" if seen[digest] == 1 else f"tg-{digest}-{seen[digest]}"
        # Event text stays text: Together's events carry no loss values ("Epoch completed, at step 24");
        # per-step metrics come from GET /v1/fine-tunes/{id}/metrics (see _metrics.py).
        metrics: dict[str, float] = {}
        best = _field(event, "early_stopping_best_metric_value")
        if best is not None:
            metrics["best_eval_loss"] = float(best)
        when = parse_time(created) or _EPOCH
        level = _LEVELS.get(raw_value(_field(event, "level")), "info")
        if kind in ("job_error", "job_user_error") and level == "info":
            level = "error"
        rows.append(
            (
                when,
                index,
                JobEvent(
                    id=event_id,
                    time=when,
                    level=level,  # type: ignore[arg-type]
                    message=message or (kind or "event"),
                    type=kind,
                    step=step,
                    total_steps=_field(event, "total_steps"),
                    metrics=metrics,
                ),
            )
        )
    rows.sort(key=lambda row: (row[0], row[1]))  # stable: same-second events keep Together's order
    return [event for _, _, event in rows]


def event_page(events: list[JobEvent], after: str | None, *, size: int = EVENTS_PAGE_SIZE) -> EventPage:
    """The page of ``events`` after the event with id ``after`` (all of them without a cursor)."""
    start = 0
    if after is not None:
        ids = [e.id for e in events]
        start = ids.index(after) + 1 if after in ids else 0  # an unknown cursor: start over, the store dedups
    chunk = events[start : start + size]
    cursor = chunk[-1].id if chunk else after
    return EventPage(events=chunk, cursor=cursor, has_more=start + size < len(events))


def failure_message(events: list[JobEvent], raw_status: str) -> str:
    """Why a job failed, in Together's words: the last error event, else a generic line."""
    for event in reversed(events):
        if event.level == "error" and event.message:
            return event.message
    if raw_status == "user_error":
        return "Together stopped the job because of a problem with the data or settings (user_error)"
    return "Together reported an internal error (error); starting the job again usually works"
