"""The money side of a comparison: training cost (actual or estimated), serving prices and loss curves.

Figures come from the job store (what a job reported, or its pre-flight estimate) and the provider
catalogs (``ftkit.estimation.catalog``); nothing here hard-codes a price.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["JobCosts", "ServingPrice", "job_costs", "serving_price"]


class ServingPrice(BaseModel):
    """USD per 1M input and output tokens for one model, with where the figure came from."""

    model_config = ConfigDict(extra="forbid")

    input_per_1m: float
    output_per_1m: float
    source: str

    def per_example(self, prompt_tokens: float, completion_tokens: float) -> float:
        return (prompt_tokens * self.input_per_1m + completion_tokens * self.output_per_1m) / 1e6


class JobCosts(BaseModel):
    """What a fine-tuning job cost (or will cost) and how its loss went."""

    model_config = ConfigDict(extra="forbid")

    training_cost_usd: float | None = None
    source: Literal["actual", "estimate"] | None = None
    loss_curve: list[tuple[int, float]] = Field(default_factory=list, description="(step, training loss)")
    eval_loss_curve: list[tuple[int, float]] = Field(default_factory=list)


def serving_price(provider: str, model: str) -> ServingPrice | None:
    """Per-token inference price of a managed model (fine-tuned ids are priced as their base), if catalogued."""
    from ftkit.registry import hosting_of

    if hosting_of(provider).is_self_hosted:
        return None  # own hardware: serving costs GPU hours, priced by break-even instead
    try:
        from ftkit.estimation.catalog import load_catalog

        entry = load_catalog(provider).find(model)
    except Exception:  # an unknown provider or a broken user catalog must not break a report
        return None
    if entry is None or entry.inference_input is None or entry.inference_output is None:
        return None
    price_in, price_out = entry.inference_input.usd_per_1m_tokens, entry.inference_output.usd_per_1m_tokens
    if price_in is None or price_out is None:
        return None
    return ServingPrice(
        input_per_1m=price_in, output_per_1m=price_out, source=f"{entry.inference_input.source} ({entry.read_on})"
    )


def _loss_points(events: list[Any], keys: tuple[str, ...]) -> list[tuple[int, float]]:
    points = {}
    for event in events:
        if event.step is None:
            continue
        for key in keys:
            if key in event.metrics:
                points[int(event.step)] = float(event.metrics[key])
                break
    return sorted(points.items())


def job_costs(job_id: str) -> JobCosts:
    """Training cost (what the provider reported, else the estimate) and loss curves of a stored job."""
    from ftkit.errors import FtkitError
    from ftkit.job import FineTuneJob

    try:
        job = FineTuneJob.attach(job_id)
        record = job.record
    except FtkitError:
        return JobCosts()
    costs = JobCosts()
    actual = (record.actual or {}).get("cost_usd")
    estimate = (record.estimate or {}).get("cost_usd")
    if actual is not None:
        costs.training_cost_usd, costs.source = float(actual), "actual"
    elif estimate is not None:
        costs.training_cost_usd, costs.source = float(estimate), "estimate"
    try:
        events = list(job.events())
    except FtkitError:
        # no credentials here (or the provider is unreachable): the events the store already holds still
        # draw the curve
        events = [event for _, event in job.store.events_after(job.id)]
    costs.loss_curve = _loss_points(events, ("loss", "train_loss"))
    costs.eval_loss_curve = _loss_points(events, ("eval_loss", "valid_loss"))
    return costs
