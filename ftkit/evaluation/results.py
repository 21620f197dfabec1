"""Typed results of an evaluation: per-example predictions and scores, metric intervals, base comparison,
and the row of a comparison of several candidates (``compare()`` builds them into a ``ComparisonReport``).

They are pydantic models that round-trip through JSON (``ftkit eval --json``, saved reports). The
per-example statistics behind each metric stay attached in memory (``EvalResult.statistics``), so a
comparison made in the same process bootstraps paired differences without scoring again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from ftkit.evaluation.costs import ServingPrice
from ftkit.evaluation.stats import Difference, Flips, Interval
from ftkit.types import GenerationSettings

__all__ = ["BaseComparison", "ComparisonRow", "EvalResult", "ExampleResult"]


class ExampleResult(BaseModel):
    """One test example: what was asked, what was expected, what the model said, how it scored."""

    model_config = ConfigDict(extra="forbid")

    index: int
    prompt: list[dict[str, Any]]
    reference: str
    prediction: str
    scores: dict[str, float | None] = Field(default_factory=dict)
    latency_s: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached: bool = False


class BaseComparison(BaseModel):
    """The fine-tuned model against its base on the same examples, with the same decoding."""

    model_config = ConfigDict(extra="forbid")

    base: EvalResult
    differences: dict[str, Difference]
    flips: Flips | None = None


class EvalResult(BaseModel):
    """The evaluation of one model on one test set.

    >>> result = ftkit.evaluate("runs/ft-model", test="test.jsonl", metrics=["exact_match"])   # doctest: +SKIP
    >>> print(result.metrics["exact_match"])                                                  # doctest: +SKIP
    0.842 [0.775, 0.900]
    """

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="a short label: provider and job id or model name")
    model_ref: dict[str, Any] = Field(default_factory=dict, description="the TrainedModel that was evaluated")
    test: str = Field(description="where the test examples came from")
    settings: GenerationSettings
    metrics: dict[str, Interval] = Field(default_factory=dict)
    details: dict[str, dict[str, Any]] = Field(default_factory=dict, description="confusion matrices and notes")
    examples: list[ExampleResult] = Field(default_factory=list)
    generated: int = Field(default=0, description="predictions made in this run (the rest came from the cache)")
    cached: int = 0
    duration_s: float = 0.0
    deployments: list[dict[str, Any]] = Field(
        default_factory=list, description="deployments created to serve the model for this run (id, hours, cost)"
    )
    deployment_cost_usd: float | None = Field(
        default=None, description="what those deployments cost while they existed (None: none, or price unknown)"
    )
    comparison: BaseComparison | None = None
    regression: BaseComparison | EvalResult | None = Field(
        default=None, description="the general-instruction set: what the fine-tune forgot"
    )
    notes: list[str] = Field(default_factory=list)

    #: metric output name -> (metric object, per-example statistics); in memory only
    _statistics: dict[str, tuple[Any, np.ndarray]] = PrivateAttr(default_factory=dict)

    @property
    def statistics(self) -> dict[str, tuple[Any, np.ndarray]]:
        return self._statistics

    @property
    def n(self) -> int:
        return len(self.examples)

    def value(self, metric: str) -> float | None:
        interval = self.metrics.get(metric)
        return interval.value if interval else None

    def mean_tokens(self) -> tuple[float | None, float | None]:
        """Mean prompt and completion tokens per example (None when the provider did not report them)."""
        def mean(values: list[int | None]) -> float | None:
            known = [v for v in values if v is not None]
            return sum(known) / len(known) if known else None

        return (mean([e.prompt_tokens for e in self.examples]), mean([e.completion_tokens for e in self.examples]))

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=2), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> EvalResult:
        # a result saved by a newer ftkit may carry fields this one does not know: ignored, not fatal
        return cls.model_validate_json(Path(path).read_text(encoding="utf-8"), extra="ignore")


BaseComparison.model_rebuild()


class ComparisonRow(BaseModel):
    """One line of the comparison table. Costs in USD; ``None`` means unknown (shown as "-")."""

    model_config = ConfigDict(extra="forbid")

    name: str
    provider: str
    hosting: str = Field(default="serverless", description="the provider's Hosting: self-hosted, serverless, deployment")
    model: str | None = None
    evaluated: bool
    metrics: dict[str, Interval] = Field(default_factory=dict)
    vs_baseline: dict[str, Difference] = Field(default_factory=dict)
    training_cost_usd: float | None = None
    training_cost_source: str | None = Field(default=None, description="'actual', 'estimate' or 'given'")
    price: ServingPrice | None = None
    deployment_price_per_hour: float | None = Field(
        default=None, description="USD per hour a deployment serving this model costs while it exists"
    )
    deployment_cost_usd: float | None = Field(
        default=None, description="what the deployments created to evaluate it cost"
    )
    prompt_tokens_per_example: float | None = None
    completion_tokens_per_example: float | None = None
    cost_per_1k_examples_usd: float | None = None
    monthly_cost_usd: float | None = Field(default=None, description="serving cost at monthly_tokens")
    breakeven_tokens_per_month: float | None = Field(
        default=None, description="monthly tokens above which self-hosting is cheaper than this managed model"
    )
    latency_s_mean: float | None = None
    latency_s_p50: float | None = None
    loss_curve: list[tuple[int, float]] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
