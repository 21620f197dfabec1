"""The one polling policy for following jobs: grow while nothing happens, reset when something does.

Providers only declare ``poll_interval`` (the first interval) and ``max_poll_interval``; the facade builds
its :class:`Backoff` with :meth:`Backoff.for_provider`, so every provider polls by the same formula.
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["Backoff"]


class Backoff:
    """Polling intervals that grow by half each quiet round and reset when something happens.

    >>> class Declared:
    ...     poll_interval, max_poll_interval = 10.0, 60.0
    >>> quick = Declared(); quick.poll_interval = 0.5     # e.g. ``poll_interval=0.5`` given to a provider
    >>> Backoff.for_provider(Declared()).maximum, Backoff.for_provider(quick).maximum
    (60.0, 3.0)
    """

    def __init__(self, initial: float, maximum: float):
        self.initial, self.maximum = initial, max(initial, maximum)
        self.current = initial

    @classmethod
    def for_provider(cls, provider: Any, poll_interval: float | None = None) -> Backoff:
        """Start at ``poll_interval`` (or the provider's); the maximum keeps the provider's declared ratio of
        maximum to first interval, so a provider polled faster (tests, emulators) also backs off less far."""
        declared_initial = type(provider).poll_interval
        declared_maximum = type(provider).max_poll_interval
        initial = poll_interval or provider.poll_interval
        maximum = declared_maximum
        if declared_initial > 0 and initial < declared_initial:
            maximum = declared_maximum * initial / declared_initial
        return cls(initial, maximum)

    def sleep(self, *, progressed: bool, deadline: float | None = None) -> None:
        self.current = self.initial if progressed else min(self.current * 1.5, self.maximum)
        delay = self.current
        if deadline is not None:
            delay = max(0.0, min(delay, deadline - time.monotonic()))
        time.sleep(delay)
