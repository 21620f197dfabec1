"""A provider's data rules, as the validator needs them, read from the provider's catalog.

The figures (minimum examples, file size limit, accepted formats and methods, per-example token caps) live
in one place, ``providers/<name>/catalog.yaml`` (``rules`` and per-model entries), which the providers'
own code and the estimator read too. Format names there are those of ``ftkit.data.detect_format``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ftkit.errors import ConfigError

__all__ = ["ProviderRules", "rules_for"]

@dataclass(frozen=True)
class ProviderRules:
    provider: str
    min_examples: int = 1
    max_file_bytes: int | None = None
    formats: frozenset[str] | None = None  # None: every format is accepted
    methods: frozenset[str] | None = None
    max_tokens_per_example: int | None = None
    source: str = ""


def rules_for(provider: str | None, model: str | None) -> ProviderRules | None:
    """The rules of ``provider`` (and ``model``), or None when there is no catalog for it."""
    if not provider:
        return None
    try:
        from ftkit.estimation.catalog import load_catalog

        catalog = load_catalog(provider)
    except (ConfigError, ImportError, OSError):
        return None
    rules = catalog.rules
    entry = catalog.find(model) if model else None
    methods = entry.methods if entry is not None and entry.methods else rules.methods
    return ProviderRules(
        provider=provider,
        min_examples=rules.min_examples,
        max_file_bytes=rules.max_file_bytes,
        formats=frozenset(rules.formats),
        methods=frozenset(methods),
        max_tokens_per_example=entry.max_tokens_per_example if entry is not None else None,
        source=rules.source,
    )
