"""Together's training metrics (``GET /v1/fine-tunes/{id}/metrics``) as ftkit events and final metrics.

``client.fine_tuning.list_metrics(id)`` returns ``{"metrics": [{name: float}, ...]}`` in chronological
order. Training and evaluation steps are separate rows: a training row carries ``train/*`` keys
(``train/global_step``, ``train/loss``, ``train/learning_rate``, ``train/grad_norm``, ``train/epoch``), an
evaluation row ``eval/*`` keys (``eval/global_step``, ``eval/loss``), each with a ``timestamp`` in
nanoseconds (docs.together.ai/docs/fine-tuning-training-metrics, read 2026-12-01). Job events carry no
loss values, so this is the only source of loss curves for a Together job.

Each row becomes one ``type="metrics"`` event with a stable id (``tg-metrics-train-<step>``), so following
a job never yields a metric twice, and ``train_loss`` / ``eval_loss`` are the names loss curves read.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from ftkit.errors import ProviderError
from ftkit.types import EventPage, JobEvent

from ._client import TogetherApi

__all__ = ["fetch_metric_rows", "final_metrics", "loss_curves", "merged_page", "metric_events"]

_NAMES = {("train", "loss"): "train_loss", ("eval", "loss"): "eval_loss"}
_SKIP = {"global_step"}


def fetch_metric_rows(api: TogetherApi, remote_id: str) -> list[dict[str, float]]:
    """Every metrics row Together recorded for the job (none yet, or an older job without them: ``[]``)."""
    try:
        response = api.safe(lambda c: c.fine_tuning.list_metrics(remote_id))
    except ProviderError as e:
        if e.status_code == 404:
            return []
        raise
    return [dict(row) for row in (getattr(response, "metrics", None) or []) if isinstance(row, dict)]


def _kind(row: dict[str, Any]) -> str | None:
    if "train/global_step" in row:
        return "train"
    if "eval/global_step" in row:
        return "eval"
    return None


def _time(row: dict[str, Any]) -> datetime:
    stamp = row.get("timestamp")
    if isinstance(stamp, (int, float)) and stamp > 0:
        seconds = stamp / 1e9 if stamp > 1e12 else float(stamp)  # nanoseconds on the wire; seconds tolerated
        return datetime.fromtimestamp(seconds, timezone.utc)
    return datetime(1970, 1, 1, tzinfo=timezone.utc)


def _named(kind: str, row: dict[str, Any]) -> dict[str, float]:
    found: dict[str, float] = {}
    for key, value in row.items():
        prefix, _, name = key.partition("/")
        if prefix != kind or name in _SKIP or not isinstance(value, (int, float)):
            continue
        found[_NAMES.get((kind, name), name if kind == "train" else f"eval_{name}")] = float(value)
    return found


def metric_events(rows: list[dict[str, Any]], *, total_steps: int | None = None) -> list[JobEvent]:
    """One event per metrics row, oldest first.

    >>> rows = [{"timestamp": 1779196193564587000, "train/global_step": 1, "train/loss": 2.43,
    ...          "train/learning_rate": 1e-05}, {"timestamp": 1779196194000000000, "eval/global_step": 1,
    ...          "eval/loss": 2.5}]
    >>> [(e.id, e.step, e.metrics) for e in metric_events(rows)]                # doctest: +NORMALIZE_WHITESPACE
    [('tg-metrics-train-1', 1, {'train_loss': 2.43, 'learning_rate': 1e-05}),
     ('tg-metrics-eval-1', 1, {'eval_loss': 2.5})]
    """
    events: list[JobEvent] = []
    for row in rows:
        kind = _kind(row)
        if kind is None:
            continue
        step = int(row[f"{kind}/global_step"])
        metrics = _named(kind, row)
        loss = metrics.get("train_loss" if kind == "train" else "eval_loss")
        what = "training step" if kind == "train" else "evaluation at step"
        message = f"{what} {step}" + (f": loss {loss:.4f}" if loss is not None else "")
        events.append(JobEvent(id=f"tg-metrics-{kind}-{step}", time=_time(row), level="info", message=message,
                               type="metrics", step=step, total_steps=total_steps, metrics=metrics))
    return events


def loss_curves(rows: list[dict[str, Any]]) -> dict[str, list[list[float]]]:
    """``{"train_loss": [[step, loss], ...], "eval_loss": [...]}`` (the last value per step)."""
    curves: dict[str, dict[int, float]] = {"train_loss": {}, "eval_loss": {}}
    for event in metric_events(rows):
        for name, points in curves.items():
            if name in event.metrics and event.step is not None:
                points[event.step] = event.metrics[name]
    return {name: [[step, value] for step, value in sorted(points.items())] for name, points in curves.items()}


def final_metrics(rows: list[dict[str, Any]]) -> dict[str, float]:
    """The last training row's metrics and the last evaluation's, for ``TrainedModel.metrics``."""
    final: dict[str, float] = {}
    for event in metric_events(rows):
        final.update(event.metrics)
    return final


def _progress(cursor: str | None) -> tuple[str | None, int, int]:
    """``"<event cursor>|<train step>|<eval step>"`` (an older plain event cursor: metrics from the start)."""
    if cursor is None or cursor.count("|") != 2:
        return cursor, 0, 0
    events, train, evals = cursor.split("|")
    return events or None, int(train or 0), int(evals or 0)


def merged_page(events: list[JobEvent], metrics: list[JobEvent], after: str | None, *, size: int) -> EventPage:
    """One page of job events and metrics events after ``after``, oldest first.

    The two come from separate calls, each read at its own moment, so one position in a merged list
    cannot serve as the cursor (a row read by one call may belong before what the other already
    returned). The cursor keeps one position per stream instead: the last job event's id and the last
    training and evaluation steps. Nothing is skipped; the store drops anything seen twice.

    >>> from datetime import datetime, timezone
    >>> at = datetime(2026, 12, 1, tzinfo=timezone.utc)
    >>> rows = metric_events([{"timestamp": 1, "train/global_step": 1, "train/loss": 2.0},
    ...                       {"timestamp": 2, "train/global_step": 2, "train/loss": 1.5}])
    >>> first = merged_page([], rows[:1], None, size=10)
    >>> [e.id for e in merged_page([], rows, first.cursor, size=10).events]
    ['tg-metrics-train-2']
    """
    from ._status import event_page

    event_cursor, train_done, eval_done = _progress(after)
    page = event_page(events, event_cursor, size=size)
    done = {"train": train_done, "eval": eval_done}
    candidates = [m for m in metrics if m.step is not None and m.step > done[m.id.split("-")[2]]]
    fresh = candidates[:size]
    for m in fresh:
        kind = m.id.split("-")[2]
        done[kind] = max(done[kind], int(m.step or 0))
    more = page.has_more or len(candidates) > size
    chunk = sorted(page.events + fresh, key=lambda e: e.time)  # stable: Together's own order within an instant
    return EventPage(events=chunk, cursor=f"{page.cursor or ''}|{done['train']}|{done['eval']}", has_more=more)
