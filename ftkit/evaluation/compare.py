"""`compare`: any number of candidates in one table, quality next to training and serving cost.

Every evaluated candidate answers the same examples with the same decoding; quality differences
against the first evaluated candidate (the baseline) come from a paired bootstrap. Candidates that
cannot be run here (a managed fine-tune not trained yet, no API key) still get a row with their
estimated training cost and catalog serving price, marked as not evaluated.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ftkit.estimation.types import Estimate
from ftkit.evaluation.cache import PredictionCache
from ftkit.evaluation.costs import JobCosts, job_costs, serving_price
from ftkit.evaluation.harness import (
    DEFAULT_METRICS,
    Progress,
    _evaluate_one,
    compare_pair,
    load_test,
    training_labels,
    with_demonstrations,
)
from ftkit.evaluation.metrics import Metric
from ftkit.evaluation.models import resolve_model
from ftkit.evaluation.registry import resolve_metrics
from ftkit.evaluation.results import ComparisonRow, EvalResult
from ftkit.model import TrainedModel
from ftkit.types import GenerationSettings

__all__ = ["Candidate", "ComparisonReport", "compare"]


class Candidate(BaseModel):
    """One option to compare. Give ``model`` to evaluate it; give only ``provider``/``base_model`` and an
    ``estimate`` (or ``training_cost_usd``) for a row that shows what it would cost.

    >>> Candidate(name="OpenAI fine-tune (planned)", provider="openai", base_model="gpt-4o-mini",
    ...           estimate=job.estimate())                                          # doctest: +SKIP
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    name: str | None = None
    model: TrainedModel | str | None = None
    provider: str | None = None
    base_model: str | None = Field(default=None, description="the catalog model that prices it")
    job_id: str | None = None
    estimate: Estimate | None = None
    training_cost_usd: float | None = None
    note: str | None = None
    few_shot: list[dict[str, Any]] | None = Field(
        default=None, description="demonstration turns (user/assistant messages) placed after the system prompt "
        "of every test prompt: the base model with a strong prompt, the comparison a fine-tune must win")


class ComparisonReport(BaseModel):
    """The comparison: one row per candidate, the evaluations behind them, and how to read it."""

    model_config = ConfigDict(extra="forbid")

    test: str
    n_examples: int
    settings: GenerationSettings
    metrics: list[str]
    baseline: str | None = None
    monthly_tokens: float | None = None
    rows: list[ComparisonRow]
    results: dict[str, EvalResult] = Field(default_factory=dict, description="full evaluations by row name")
    notes: list[str] = Field(default_factory=list)

    def row(self, name: str) -> ComparisonRow:
        return next(r for r in self.rows if r.name == name)

    def to_json(self, *, examples: bool = True) -> str:
        exclude = None if examples else {"results": {"__all__": {"examples"}}}
        return self.model_dump_json(indent=2, exclude=exclude)

    def save_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    def save_html(self, path: str | Path) -> Path:
        from ftkit.evaluation.report_html import render_html

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_html(self), encoding="utf-8")
        return path

    def table(self) -> Any:
        from ftkit.evaluation.report_table import comparison_table

        return comparison_table(self)


def _as_candidate(value: Candidate | TrainedModel | str) -> Candidate:
    if isinstance(value, Candidate):
        return value
    return Candidate(model=value)


def _tokens(result: EvalResult) -> tuple[float | None, float | None]:
    return result.mean_tokens()


def _latency(result: EvalResult) -> tuple[float | None, float | None]:
    values = [e.latency_s for e in result.examples if e.latency_s is not None and not e.cached]
    values = values or [e.latency_s for e in result.examples if e.latency_s is not None]
    if not values:
        return None, None
    return float(np.mean(values)), float(np.median(values))


def _row_for(
    candidate: Candidate, model: TrainedModel | None, result: EvalResult | None, costs: JobCosts
) -> ComparisonRow:
    provider = model.provider if model else (candidate.provider or "?")
    base = candidate.base_model or (model.base_model or model.model_id if model else None)
    name = candidate.name or (model.label if model else f"{provider}:{base}")
    # a local adapter is served on its base: the base directory is what sizes self-hosting
    served = (model.base_model if model.adapter_path else model.model_id) if model else base
    from ftkit.registry import hosting_of

    hosting = hosting_of(provider)
    row = ComparisonRow(name=name, provider=provider, hosting=hosting.value, model=served, evaluated=bool(result))
    if candidate.note:
        row.notes.append(candidate.note)
    if candidate.training_cost_usd is not None:
        row.training_cost_usd, row.training_cost_source = candidate.training_cost_usd, "given"
    elif costs.training_cost_usd is not None:
        row.training_cost_usd, row.training_cost_source = costs.training_cost_usd, costs.source
    elif candidate.estimate is not None and candidate.estimate.cost_usd is not None:
        row.training_cost_usd, row.training_cost_source = candidate.estimate.cost_usd, "estimate"
    elif model is not None and model.is_base:
        row.training_cost_usd, row.training_cost_source = 0.0, "no training"
    row.loss_curve = costs.loss_curve
    row.price = serving_price(provider, model.model_id if model else base or "")
    if row.price is None and base:
        row.price = serving_price(provider, base)
    if result is not None:
        row.metrics = dict(result.metrics)
        row.prompt_tokens_per_example, row.completion_tokens_per_example = _tokens(result)
        row.latency_s_mean, row.latency_s_p50 = _latency(result)
        row.deployment_cost_usd = result.deployment_cost_usd
        prices = [d["price_per_hour"] for d in result.deployments if d.get("price_per_hour") is not None]
        row.deployment_price_per_hour = prices[0] if prices else None
    if hosting.needs_deployment and model is not None and row.deployment_price_per_hour is None:
        provider_instance = model.provider_instance()
        if provider_instance.needs_deployment(model):
            row.deployment_price_per_hour = provider_instance.deployment_price(model, {})
    if hosting.is_self_hosted:
        row.notes.append("self-hosted: serving cost depends on your hardware (see break-even)")
    elif hosting.needs_deployment and row.deployment_price_per_hour is not None:
        row.notes.append(f"served through a deployment billed ${row.deployment_price_per_hour:,.2f}/hour while it "
                         "exists, idle or not")
    return row


def compare(
    candidates: Sequence[Candidate | TrainedModel | str],
    *,
    test: Any,
    metrics: Sequence[str | Metric | Callable[..., Any]] = DEFAULT_METRICS,
    monthly_tokens: float | None = None,
    settings: GenerationSettings | None = None,
    labels: Sequence[Any] | None = None,
    limit: int | None = None,
    cache: bool | PredictionCache = True,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    progress: Progress | None = None,
    **generation: Any,
) -> ComparisonReport:
    """Evaluate every runnable candidate on ``test`` and put quality next to cost in one report.

    >>> report = ftkit.compare(["runs/base", "runs/router", "openai:ft:gpt-4o-mini:acme:router:x1"],
    ...                        test="test.jsonl", metrics=["exact_match", "macro_f1"],
    ...                        monthly_tokens=50e6)                                      # doctest: +SKIP
    >>> report.save_html("report.html")                                                  # doctest: +SKIP
    """
    settings = (settings or GenerationSettings()).model_copy(update=generation)
    metric_objects = resolve_metrics(metrics)
    candidates = [_as_candidate(value) for value in candidates]
    if labels is None:  # classification prompts list what the first fine-tune was trained with
        models = (resolve_model(c.model) for c in candidates if c.model is not None)
        labels = next((found for m in models if (found := training_labels(m))), None)
    test_set = load_test(test, labels=labels, limit=limit)
    store = cache if isinstance(cache, PredictionCache) else (PredictionCache() if cache else None)
    options = {"cache": store, "progress": progress, "resamples": resamples, "confidence": confidence, "seed": seed}
    rows: list[ComparisonRow] = []
    results: dict[str, EvalResult] = {}
    baseline: EvalResult | None = None
    notes: list[str] = []
    try:
        for candidate in candidates:
            model = resolve_model(candidate.model) if candidate.model is not None else None
            prompts = with_demonstrations(test_set, candidate.few_shot) if candidate.few_shot else test_set
            result = _evaluate_one(model, prompts, metric_objects, settings, **options) if model else None
            job_id = candidate.job_id or (model.job_id if model else None)
            row = _row_for(candidate, model, result, job_costs(job_id) if job_id else JobCosts())
            if result is not None:
                results[row.name] = result
                if baseline is None:
                    baseline = result
                else:
                    pair = compare_pair(baseline, result, resamples=resamples, confidence=confidence, seed=seed)
                    row.vs_baseline = pair.differences
            rows.append(row)
    finally:
        if store is not None and not isinstance(cache, PredictionCache):
            store.close()
    _price_rows(rows, monthly_tokens, notes)
    return ComparisonReport(
        test=test_set.source, n_examples=len(test_set), settings=settings,
        metrics=_display_names(metrics, metric_objects),
        baseline=next((r.name for r in rows if r.evaluated), None), monthly_tokens=monthly_tokens,
        rows=rows, results=results, notes=notes,
    )


def _display_names(specs: Sequence[Any], metric_objects: list[Metric]) -> list[str]:
    """The columns to show: a metric asked for by output name (``macro_f1``) shows that output only."""
    asked = {s for s in specs if isinstance(s, str)}
    names: list[str] = []
    for metric in metric_objects:
        chosen = [o for o in metric.outputs if o in asked] or list(metric.outputs)
        names += [n for n in chosen if n not in names]
    return names


def _price_rows(rows: list[ComparisonRow], monthly_tokens: float | None, notes: list[str]) -> None:
    """Cost per 1,000 examples, monthly serving cost and break-even for rows with a per-token price.

    Rows that were not evaluated borrow the measured tokens per example of the first evaluated row
    (their tokenizer may count a little differently; the row says so).
    """
    measured = next((r for r in rows if r.prompt_tokens_per_example is not None), None)
    for row in rows:
        if row.price is None:
            continue
        prompt_tokens, completion_tokens = row.prompt_tokens_per_example, row.completion_tokens_per_example
        if prompt_tokens is None and measured is not None:
            prompt_tokens, completion_tokens = measured.prompt_tokens_per_example, measured.completion_tokens_per_example
            row.notes.append(f"tokens per example measured on {measured.name}")
        if prompt_tokens is not None:
            row.cost_per_1k_examples_usd = 1000 * row.price.per_example(prompt_tokens, completion_tokens or 0.0)
        if monthly_tokens and prompt_tokens is not None:
            per_token = row.price.per_example(prompt_tokens, completion_tokens or 0.0) / (
                prompt_tokens + (completion_tokens or 0.0)
            )
            row.monthly_cost_usd = per_token * monthly_tokens
    from ftkit.evaluation.breakeven import add_breakeven

    add_breakeven(rows, monthly_tokens, notes)
