"""Retries for safe (idempotent) provider calls: status, events, listings, downloads.

One policy for every managed provider: retry on 429, 5xx, timeouts and dropped connections with
exponential backoff and jitter, honouring ``Retry-After``. Job *creation* is never retried blindly;
providers reconcile by listing instead (see the managed providers).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

T = TypeVar("T")

__all__ = ["RetryPolicy", "call_with_retries"]


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    initial_wait: float = 0.5
    max_wait: float = 30.0
    #: a Retry-After longer than this is not waited for: the error is raised instead
    max_retry_after: float = 120.0


DEFAULT_POLICY = RetryPolicy()


def call_with_retries(
    fn: Callable[[], T],
    *,
    is_retryable: Callable[[BaseException], bool],
    retry_after: Callable[[BaseException], float | None] = lambda e: None,
    policy: RetryPolicy = DEFAULT_POLICY,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``fn`` until it succeeds, a non-retryable error is raised, or attempts run out.

    ``is_retryable`` and ``retry_after`` read the provider's own exception types, so this module knows
    no SDK.
    """

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        hinted = retry_after(exc) if exc is not None else None
        if hinted is not None:
            return min(max(hinted, 0.0), policy.max_retry_after)
        backoff = min(policy.initial_wait * 2 ** (state.attempt_number - 1), policy.max_wait)
        return backoff * (1 + random.random() * 0.25)

    def should_retry(exc: BaseException) -> bool:
        if not is_retryable(exc):
            return False
        hinted = retry_after(exc)
        return hinted is None or hinted <= policy.max_retry_after

    retrying = Retrying(
        retry=retry_if_exception(should_retry),
        stop=stop_after_attempt(policy.attempts),
        wait=wait,
        sleep=sleep,
        reraise=True,
    )
    return retrying(fn)
