"""Pre-flight estimate of an OpenAI fine-tune, offline: ``OpenAIProvider.estimate_spec`` under a short name.

The skeleton (tokens, epochs, billed tokens, price, dates) is :meth:`ftkit.managed.ManagedProvider.estimate_spec`;
OpenAI adds its per-example cap and how its counter counts (``OpenAIProvider.count_notes``).

>>> from ftkit.spec import JobSpec
>>> rows = [{"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}] * 10
>>> est = estimate(JobSpec(provider="openai", model="gpt-4o-mini", train=rows))
>>> est.epochs, est.epochs_source, est.billed_tokens
(10, 'default rule', 1600)
"""

from __future__ import annotations

from datetime import date

from ftkit.estimation.types import Estimate, TokenCount
from ftkit.spec import JobSpec

__all__ = ["estimate"]


def estimate(spec: JobSpec, *, counts: TokenCount | None = None, today: date | None = None) -> Estimate:
    """Tokens, billed tokens and cost of fine-tuning ``spec.model`` on OpenAI, with every assumption."""
    from .provider import OpenAIProvider

    return OpenAIProvider.estimate_spec(spec, counts=counts, today=today)
