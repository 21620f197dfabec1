"""Metric names for ``metrics=[...]`` and ``--metric``, and how plain callables become metrics.

>>> [m.name for m in resolve_metrics(["exact_match", "macro_f1", "accuracy"])]
['exact_match', 'classification']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ftkit.errors import ConfigError
from ftkit.evaluation.classification import Classification
from ftkit.evaluation.metrics import (
    ChrF,
    Contains,
    ExactMatch,
    FunctionMetric,
    GenerationStat,
    JsonValid,
    Metric,
    RougeL,
)

__all__ = ["available_metrics", "register_metric", "resolve_metrics"]

_FACTORIES: dict[str, Callable[[], Metric | list[Metric]]] = {
    "exact_match": ExactMatch,
    "contains": Contains,
    "accuracy": Classification,
    "macro_precision": Classification,
    "macro_recall": Classification,
    "macro_f1": Classification,
    "classification": Classification,
    "rouge_l": RougeL,
    "chrf": ChrF,
    "json_valid": JsonValid,
    "latency": lambda: GenerationStat("latency_s", "latency_s"),
    "tokens": lambda: [
        GenerationStat("prompt_tokens", "prompt_tokens"),
        GenerationStat("completion_tokens", "completion_tokens"),
    ],
}


def _perplexity() -> Metric:
    from ftkit.evaluation.perplexity import Perplexity

    return Perplexity()


_FACTORIES["perplexity"] = _perplexity


def register_metric(name: str, factory: Callable[[], Metric | list[Metric]], *, replace: bool = False) -> None:
    """Make ``name`` usable in ``metrics=[...]`` and ``ftkit eval --metric``."""
    if name in _FACTORIES and not replace:
        raise ConfigError(f"A metric named {name!r} is already registered; pass replace=True to override it.")
    _FACTORIES[name] = factory


def available_metrics() -> list[str]:
    return sorted([*_FACTORIES, "json_schema", "judge"])


def resolve_metrics(specs: Iterable[str | Metric | Callable[..., Any]]) -> list[Metric]:
    """Metric objects for names, metric objects and plain callables; duplicates are computed once."""
    resolved: list[Metric] = []
    for spec in specs:
        if isinstance(spec, Metric):
            found: list[Metric] = [spec]
        elif isinstance(spec, str):
            if spec in ("json_schema", "judge"):
                what = "JsonSchema(schema)" if spec == "json_schema" else "Judge(rubric, model=...)"
                raise ConfigError(f"The {spec!r} metric needs settings: pass ftkit.evaluation.{what}.")
            factory = _FACTORIES.get(spec)
            if factory is None:
                raise ConfigError(f"Unknown metric {spec!r}. Available: {', '.join(available_metrics())}.")
            made = factory()
            found = made if isinstance(made, list) else [made]
        elif callable(spec):
            found = [FunctionMetric(spec)]
        else:
            raise ConfigError(f"A metric must be a name, a Metric or a callable, not {type(spec).__name__}.")
        resolved.extend(m for m in found if m not in resolved)
    return resolved
