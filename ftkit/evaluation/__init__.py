"""Evaluation and comparison: did fine-tuning help, and which option gives the quality you need for the least money?

* :func:`evaluate`: one model (and its base) on a held-out set, same prompts and greedy decoding,
  metrics with bootstrap intervals, per-example flips, an optional regression set.
* :func:`compare`: any number of candidates in one table, quality next to training and serving cost,
  as a rich table, JSON and a self-contained HTML report.

>>> import ftkit
>>> result = ftkit.evaluate("runs/router", "test.jsonl", metrics=["exact_match", "macro_f1"], base=True)  # doctest: +SKIP
"""

from __future__ import annotations

from ftkit.evaluation.cache import PredictionCache
from ftkit.evaluation.classification import Classification
from ftkit.evaluation.compare import Candidate, ComparisonReport, compare
from ftkit.evaluation.harness import evaluate, load_test, predict, regression_set
from ftkit.evaluation.json_schema import JsonSchema
from ftkit.evaluation.judge import Judge
from ftkit.evaluation.metrics import (
    ChrF,
    Contains,
    ExactMatch,
    ExampleMetric,
    FunctionMetric,
    GenerationStat,
    JsonValid,
    Metric,
    Normalization,
    RougeL,
    ScoringInput,
)
from ftkit.evaluation.perplexity import Perplexity
from ftkit.evaluation.registry import available_metrics, register_metric, resolve_metrics
from ftkit.evaluation.results import BaseComparison, EvalResult, ExampleResult
from ftkit.evaluation.stats import Difference, Flips, Interval

__all__ = [
    "BaseComparison",
    "Candidate",
    "ChrF",
    "Classification",
    "ComparisonReport",
    "Contains",
    "Difference",
    "EvalResult",
    "ExactMatch",
    "ExampleMetric",
    "ExampleResult",
    "Flips",
    "FunctionMetric",
    "GenerationStat",
    "Interval",
    "JsonSchema",
    "JsonValid",
    "Judge",
    "Metric",
    "Normalization",
    "Perplexity",
    "PredictionCache",
    "RougeL",
    "ScoringInput",
    "available_metrics",
    "compare",
    "evaluate",
    "load_test",
    "predict",
    "register_metric",
    "regression_set",
    "resolve_metrics",
]
