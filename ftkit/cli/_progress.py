"""The CLI's rendering of :mod:`ftkit._progress`: rich bars on stderr, or a line now and then when asked.

Shown when stderr is a terminal (or with ``ftkit --progress``), never on stdout, so ``--json`` output stays
clean; ``--no-progress`` silences it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ftkit._progress import ProgressUpdate, listening, report
from ftkit.cli._output import error_console, progress_wanted

__all__ = ["amount", "describe", "showing_progress"]

#: seconds between two lines of the same task when stderr is not a terminal
LINE_INTERVAL = 5.0


def amount(update: ProgressUpdate) -> str:
    """``3.2/12.0 MB``, ``40/200 steps``, ``17 examples``."""
    def fmt(value: float) -> str:
        if update.unit == "bytes":
            return f"{value / 1e6:,.1f}"
        return f"{value:,.0f}"

    unit = "MB" if update.unit == "bytes" else update.unit
    total = f"/{fmt(update.total)}" if update.total else ""
    return f"{fmt(update.done)}{total} {unit}".rstrip()


def describe(update: ProgressUpdate) -> str:
    """The well-known ``info`` figures: loss, tokens/s, cost so far, state, time left."""
    info = update.info
    parts = []
    if info.get("loss") is not None:
        parts.append(f"loss {info['loss']:.4g}")
    if info.get("tokens_per_s"):
        parts.append(f"{info['tokens_per_s']:,.0f} tok/s")
    if info.get("cost_usd") is not None:
        parts.append(f"${info['cost_usd']:.4f} so far")
    if info.get("state"):
        parts.append(str(info["state"]))
    if info.get("eta_s"):
        parts.append(f"{_duration(info['eta_s'])} left")
    return ", ".join(parts)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def enabled() -> bool:
    wanted = progress_wanted()
    return error_console().is_terminal if wanted is None else wanted


@contextmanager
def showing_progress() -> Iterator[None]:
    """Render every ``ftkit._progress.report`` made inside the block on stderr (when progress is wanted)."""
    if not enabled():
        yield
        return
    err = error_console()
    if not err.is_terminal:
        with listening(_LineRenderer(err)):
            yield
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(bar_width=24), TextColumn("{task.fields[amount]}"),
                   TextColumn("{task.fields[info]}"), TimeRemainingColumn(), TimeElapsedColumn(),
                   console=err, transient=True)
    tasks: dict[str, Any] = {}

    def listener(update: ProgressUpdate) -> None:
        if update.task not in tasks:
            tasks[update.task] = bar.add_task(update.task, total=update.total, amount="", info="")
        task = tasks[update.task]
        bar.update(task, completed=update.done, total=update.total, amount=amount(update), info=describe(update))
        if update.finished:
            bar.remove_task(task)
            del tasks[update.task]

    with bar, listening(listener):
        yield


class _LineRenderer:
    """``ftkit --progress ... 2> log``: one line per task every few seconds, and one when it ends."""

    def __init__(self, err: Any):
        self.err = err
        self.last: dict[str, float] = {}

    def __call__(self, update: ProgressUpdate) -> None:
        now = time.monotonic()
        if not update.finished and now - self.last.get(update.task, -LINE_INTERVAL) < LINE_INTERVAL:
            return
        self.last[update.task] = now
        details = ", ".join(p for p in (amount(update), describe(update)) if p)
        self.err.print(f"{update.task}: {details}" + (" (done)" if update.finished else ""),
                       markup=False, highlight=False, soft_wrap=True)


def adapt_counts(task: str, unit: str):  # type: ignore[no-untyped-def]
    """A ``progress(done, total)`` callback (as ``ftkit.data.validate`` takes) that reports to the helper."""
    def callback(done: float, total: float | None = None) -> None:
        report(task, done, total, unit=unit, finished=bool(total) and done >= (total or 0))

    return callback


def adapt_evaluation():  # type: ignore[no-untyped-def]
    """A ``progress(done, total, model_label)`` callback (as evaluation takes) that reports to the helper."""
    def callback(done: int, total: int, what: str) -> None:
        report(f"predicting with {what}", done, total, unit="examples", finished=done >= total)

    return callback
