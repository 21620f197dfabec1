"""Proving parity: every replacement and the source fine-tune's recorded answers on the same held-out prompts.

One :func:`ftkit.evaluation.compare` over the source (only when all its answers are recorded, so it is never
called again) and each retrained model: scores against the references with intervals, paired differences from
the source, flips, agreement with the recorded answers, costs to train and serve, and a verdict per target.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ftkit.migration.imports import imported_facts
from ftkit.migration.record import source_model
from ftkit.migration.report import MigrationReport, SourceSummary, TargetResult, agreement, verdict
from ftkit.types import GenerationSettings

if TYPE_CHECKING:
    from ftkit.migration.run import MigrationState

__all__ = ["evaluate_targets"]


def _deployment_serving(item: TargetResult, row: Any, settings: GenerationSettings) -> None:
    """Per-token and per-example serving cost of a model billed per deployment hour, at the throughput measured
    while evaluating it (one replica, ``settings.concurrency`` requests in flight): a busy deployment's cost; idle
    hours are billed as well, and the note says so."""
    price = row.deployment_price_per_hour
    item.deployment_price_per_hour = price
    latency, tokens = row.latency_s_mean, (row.prompt_tokens_per_example or 0) + (row.completion_tokens_per_example or 0)
    if not latency or latency <= 0:
        return
    seconds_per_example = latency / max(1, settings.concurrency)
    item.cost_per_1k_examples_usd = price / 3600 * seconds_per_example * 1000
    if tokens:
        per_1m = price / 3600 * seconds_per_example / tokens * 1e6
        item.serving_input_per_1m = item.serving_output_per_1m = per_1m
    item.notes.append(
        f"served by a deployment at ${price:,.2f}/hour: per-token and per-example costs are at the throughput "
        f"measured here ({seconds_per_example:.3f} s per example with {settings.concurrency} requests in flight on "
        "one replica), i.e. while it is busy; idle hours are billed too")


def evaluate_targets(job: Any, state: MigrationState, trained: dict[str, Any], metrics: Sequence[str],
              settings: GenerationSettings) -> MigrationReport:
    from ftkit.evaluation import Candidate, PredictionCache, compare
    from ftkit.evaluation.harness import example_flips
    from ftkit.migration.record import load_recording
    from ftkit.model import TrainedModel

    assert state.held_out is not None and state.recording is not None
    recording = state.recording
    recorded = load_recording(recording.path)
    facts = imported_facts(job)
    source_name = f"source: {job.record.model_id}"
    candidates: list[Candidate] = []
    notes: list[str] = []
    if recording.complete:
        candidates.append(Candidate(name=source_name, model=source_model(job), job_id=job.id))
    else:
        notes.append(recording.unavailable or f"only {recording.recorded} of {recording.n} answers were recorded")
        notes.append("Compared with the references alone: the source fine-tune's answers are not all recorded.")
    names = {}
    for plan in state.plans:
        model = trained.get(plan.target)
        if isinstance(model, TrainedModel):
            names[plan.target] = plan.target
            candidates.append(Candidate(name=plan.target, model=model, job_id=state.jobs.get(plan.target)))
    with PredictionCache() as cache:
        comparison = compare(candidates, test=state.held_out.test, metrics=list(metrics), settings=settings,
                             cache=cache) if candidates else None
    first = comparison.metrics[0] if comparison and comparison.metrics else None
    source_row = comparison.row(source_name) if comparison and recording.complete else None
    source = SourceSummary(
        provider=job.spec.provider, remote_id=str(job.record.remote_id), job_id=job.id, base_model=job.spec.model,
        fine_tuned_model=job.record.model_id, epochs=(facts.hyperparameters.get("n_epochs") if facts else None),
        trained_tokens=job.record.trained_tokens, training_cost_usd=(job.record.actual or {}).get("cost_usd"),
        recorded=recording.recorded, held_out=recording.n, held_out_source=state.held_out.source,
        recording_note=recording.unavailable,
    )
    if source_row is not None:
        source.metrics = dict(source_row.metrics)
        source.cost_per_1k_examples_usd = source_row.cost_per_1k_examples_usd
        if source_row.price:
            source.serving_input_per_1m = source_row.price.input_per_1m
            source.serving_output_per_1m = source_row.price.output_per_1m
    targets = []
    for plan in state.plans:
        item = TargetResult(target=plan.target, job_id=state.jobs.get(plan.target), translations=plan.translations)
        model = trained.get(plan.target)
        if not isinstance(model, TrainedModel):
            item.state = model.record.state.value if model is not None else "not started"
            item.notes.append(f"the retrained job did not succeed: {model.record.error if model else 'not started'}")
        else:
            item.state, item.model_id = "succeeded", model.model_id
        if comparison and plan.target in names:
            row = comparison.row(plan.target)
            item.metrics, item.vs_source = dict(row.metrics), dict(row.vs_baseline) if source_row else {}
            item.training_cost_usd, item.training_cost_source = row.training_cost_usd, row.training_cost_source
            item.cost_per_1k_examples_usd, item.hosting = row.cost_per_1k_examples_usd, row.hosting
            if row.price:
                item.serving_input_per_1m, item.serving_output_per_1m = row.price.input_per_1m, row.price.output_per_1m
            elif row.deployment_price_per_hour is not None:
                _deployment_serving(item, row, settings)
            item.notes += row.notes
            result = comparison.results.get(plan.target)
            if result is not None:
                answers = [e.prediction for e in result.examples]
                item.agreement = agreement(answers, [r.get("answer") for r in recorded])
                if source_row is not None:
                    item.flips = example_flips(comparison.results[source_name], result)
        item.verdict = verdict(item, source, first)
        targets.append(item)
    return MigrationReport(source=source, targets=targets, metrics=list(comparison.metrics if comparison else metrics),
                           test=state.held_out.test, notes=notes + (comparison.notes if comparison else []))
