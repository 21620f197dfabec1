"""Polling intervals for following jobs: grow while nothing happens, reset when something does."""

from __future__ import annotations

import time

__all__ = ["Backoff"]


class Backoff:
    """Polling intervals that grow by half each quiet round and reset when something happens."""

    def __init__(self, initial: float, maximum: float):
        self.initial, self.maximum = initial, max(initial, maximum)
        self.current = initial

    def sleep(self, *, progressed: bool, deadline: float | None = None) -> None:
        self.current = self.initial if progressed else min(self.current * 1.5, self.maximum)
        delay = self.current
        if deadline is not None:
            delay = max(0.0, min(delay, deadline - time.monotonic()))
        time.sleep(delay)
