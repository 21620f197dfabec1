"""Keeping secrets out of reprs, logs, events, exception messages and the job store.

Providers announce the keys they hold with :func:`register`; :func:`scrub` replaces them in any text,
and the ``ftkit`` logger carries a filter that scrubs every record.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

_lock = threading.Lock()
_known: set[str] = set()
MASK = "***"


def register(secrets: Iterable[str]) -> None:
    with _lock:
        # very short strings would mangle ordinary text; real keys are long
        _known.update(s for s in secrets if s and len(s) >= 8)


def known() -> frozenset[str]:
    return frozenset(_known)


def scrub(text: str) -> str:
    for secret in sorted(_known, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def scrub_exception(exc: BaseException) -> BaseException:
    """Scrub an exception's message (and its chained causes) in place; returns it for re-raising."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _known and any(isinstance(a, str) and scrub(a) != a for a in current.args):
            current.args = tuple(scrub(a) if isinstance(a, str) else a for a in current.args)
        current = current.__cause__ or current.__context__
    return exc


class _ScrubFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if _known:
            message = record.getMessage()
            clean = scrub(message)
            if clean != message:
                record.msg, record.args = clean, None
        return True


logging.getLogger("ftkit").addFilter(_ScrubFilter())
