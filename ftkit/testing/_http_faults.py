"""Fault injection and the fast clock of the emulator base."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FastClock", "Fault", "FaultPlan", "compile_pattern"]


@dataclass
class Fault:
    """A scripted misbehaviour for requests matching ``method`` and ``pattern``.

    ``status``: answer this HTTP status (with ``retry_after`` seconds as ``Retry-After``/``retry-after-ms``);
    ``drop``: close the connection without an answer; ``delay``: wait this many seconds before
    handling (a slow answer; alone it changes nothing else); ``process``: run the real handler first,
    modelling "the server did it but the client never heard": the status or drop then replaces its
    answer, and a ``delay`` is spent *after* the work is done; ``times``: how many matching requests it
    affects (``None``: all). ``body`` replaces the default error body.
    """

    method: str
    pattern: str
    status: int | None = None
    retry_after: float | None = None
    drop: bool = False
    delay: float | None = None
    times: int | None = 1
    body: Any = None
    process: bool = False
    hits: int = 0
    _regex: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._regex = compile_pattern(self.pattern)

    def matches(self, method: str, path: str) -> bool:
        return (self.method in ("*", method)) and self._regex.fullmatch(path) is not None

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times

    def describe(self) -> str:
        what = "drop" if self.drop else (f"status {self.status}" if self.status else "delay")
        return f"{what} on {self.method} {self.pattern}"


class FaultPlan:
    """The faults scripted on one server; thread-safe. Each request consumes at most one fault."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(
        self,
        method: str,
        path_pattern: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        drop: bool = False,
        delay: float | None = None,
        times: int | None = 1,
        body: Any = None,
        process: bool = False,
    ) -> Fault:
        """Script a fault. ``path_pattern`` uses route syntax: ``/v1/jobs/{id}/events``; ``*`` matches anything."""
        if status is None and not drop and delay is None:
            raise ValueError("a fault needs status=, drop=True or delay=")
        fault = Fault(method.upper(), path_pattern, status, retry_after, drop, delay, times, body, process)
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if not fault.exhausted and fault.matches(method, path):
                    fault.hits += 1
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def __iter__(self) -> Iterator[Fault]:
        with self._lock:
            return iter(list(self._faults))

    def pending(self) -> list[Fault]:
        """Faults that have not fired as often as scripted (useful to assert a test exercised them)."""
        with self._lock:
            return [f for f in self._faults if not f.exhausted]


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """``/v1/jobs/{job_id}`` -> a regex with named groups; ``*`` matches any run of characters."""
    out, pos = [], 0
    for m in re.finditer(r"\{(\w+)\}|\*", pattern):
        out.append(re.escape(pattern[pos : m.start()]))
        out.append(f"(?P<{m.group(1)}>[^/]+)" if m.group(1) else ".*")
        pos = m.end()
    out.append(re.escape(pattern[pos:]))
    return re.compile("".join(out))


# -- clock ----------------------------------------------------------------------------------------------------


class FastClock:
    """Emulated time: ``scale`` emulated seconds pass per wall second, plus whatever ``advance()`` adds.

    ``now()`` is a Unix timestamp, so emulated jobs carry plausible ``created_at`` values.
    """

    def __init__(self, scale: float = 60.0, start: float | None = None):
        self.scale = scale
        self._origin_wall = time.monotonic()
        self._origin = time.time() if start is None else start
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._origin + (time.monotonic() - self._origin_wall) * self.scale + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds
