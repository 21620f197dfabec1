"""Progress of long work: library code reports it, whoever listens renders it (the CLI, on stderr).

Library code never prints progress. It calls :func:`report` (or wraps a loop in :func:`tracked`), which costs
nothing when nobody listens. A caller installs one listener for a block with :func:`listening`; the
``ftkit`` command renders updates with rich on stderr (never on ``--json`` stdout).

>>> seen = []
>>> with listening(seen.append):
...     for _ in tracked(range(3), "counting", unit="items"):
...         pass
...     report("training ftk-1", 10, 100, unit="steps", loss=1.25)
>>> [(u.task, u.done, u.total, u.finished) for u in seen][-2:]
[('counting', 3, 3, True), ('training ftk-1', 10, 100, False)]
>>> seen[-1].info["loss"]
1.25

Tasks are named by what a person reads (``"uploading train.jsonl"``); the same name updates the same bar.
Well-known ``info`` keys the CLI shows: ``loss``, ``tokens_per_s``, ``cost_usd``, ``state``, ``eta_s``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = ["ProgressCallback", "ProgressUpdate", "is_listening", "listening", "report", "tracked"]

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProgressUpdate:
    """One step of one task: ``done`` out of ``total`` (None: unknown) ``unit`` (bytes, steps, examples...)."""

    task: str
    done: float
    total: float | None = None
    unit: str = ""
    finished: bool = False
    info: Mapping[str, Any] = field(default_factory=dict)


#: what a listener is: called with each update, on the thread that did the work
ProgressCallback = Callable[[ProgressUpdate], None]

_listener: ContextVar[ProgressCallback | None] = ContextVar("ftkit_progress", default=None)


def is_listening() -> bool:
    """Whether anyone renders progress (skip computing an expensive figure when not)."""
    return _listener.get() is not None


def report(task: str, done: float, total: float | None = None, *, unit: str = "", finished: bool = False,
           **info: Any) -> None:
    """Tell the listener (if any) how far ``task`` is. A listener's failure never stops the work."""
    listener = _listener.get()
    if listener is None:
        return
    try:
        listener(ProgressUpdate(task, done, total, unit, finished, info))
    except Exception:  # a broken progress bar must not kill a three-hour job
        log.debug("progress listener failed", exc_info=True)


@contextlib.contextmanager
def listening(callback: ProgressCallback | None) -> Iterator[None]:
    """Send the progress of everything done inside the block (in this thread or task) to ``callback``."""
    token = _listener.set(callback)
    try:
        yield
    finally:
        _listener.reset(token)


def tracked(items: Iterable[T], task: str, *, total: float | None = None, unit: str = "", every: int = 1) -> Iterator[T]:
    """Yield ``items``, reporting each ``every``-th one and the end (``total`` defaults to ``len(items)``)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    done = 0
    listening_now = is_listening()
    for item in items:
        yield item
        done += 1
        if listening_now and done % every == 0:
            report(task, done, total, unit=unit)
    report(task, done, total if total is not None else done, unit=unit, finished=True)
