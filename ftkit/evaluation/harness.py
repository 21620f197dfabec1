"""`evaluate`: one model (and optionally its base) on a held-out set, with the same prompts and decoding.

The flow is load -> predict -> score. Prompts come from ``ftkit.data.reference_of``, so they are
rendered exactly as in training (same system prompt; the provider applies the same chat template).
Predictions go through the provider's batched (local) or concurrent (managed) ``generate`` in chunks,
and every finished chunk lands in the on-disk cache before the next starts: a re-run costs nothing
and an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ftkit.errors import ConfigError
from ftkit.evaluation import stats as bootstrap
from ftkit.evaluation.cache import PredictionCache, model_identity, prediction_key
from ftkit.evaluation.metrics import Metric, ScoringInput
from ftkit.evaluation.models import resolve_model
from ftkit.evaluation.registry import resolve_metrics
from ftkit.evaluation.results import BaseComparison, EvalResult, ExampleResult
from ftkit.evaluation.stats import Flips, Interval
from ftkit.model import TrainedModel
from ftkit.types import Generation, GenerationSettings

__all__ = ["TestSet", "evaluate", "load_test", "predict", "regression_set", "with_demonstrations"]

#: progress callback: (done, total, what)
Progress = Callable[[int, int, str], None]

DEFAULT_METRICS = ("exact_match",)
REGRESSION_METRICS = ("contains", "chrf")


@dataclass(frozen=True)
class TestSet:
    """Prompts (message lists), references and the raw examples, aligned by index."""

    prompts: list[list[dict[str, Any]]]
    references: list[str]
    examples: list[dict[str, Any]]
    source: str

    def __len__(self) -> int:
        return len(self.references)


def with_demonstrations(test_set: TestSet, demonstrations: Sequence[dict[str, Any]]) -> TestSet:
    """The same examples and references, with ``demonstrations`` (alternating user/assistant turns) after each
    prompt's system message: a few-shot prompt."""
    prompts = []
    for prompt in test_set.prompts:
        head = prompt[:1] if prompt and prompt[0].get("role") == "system" else []
        prompts.append([*head, *(dict(m) for m in demonstrations), *prompt[len(head):]])
    return dataclasses.replace(test_set, prompts=prompts)


def regression_set() -> Path:
    """The bundled general-instruction set (40 short questions) that shows what a fine-tune forgot."""
    return Path(__file__).resolve().parent.parent / "demo" / "general_instructions.jsonl"


def load_test(test: Any, *, labels: Sequence[Any] | None = None, limit: int | None = None) -> TestSet:
    """Read a test set in any supervised format of ``ftkit.data`` (path, list of dicts, Dataset, DataFrame).

    The reference is the last assistant turn, the completion, the output or the label. Classification
    rows get the training system prompt built from ``labels`` (default: every label in the test set).
    """
    from ftkit.data.formats import detect_format, reference_of
    from ftkit.data.source import iter_records

    rows = [record for _, record in iter_records(test)]
    if limit is not None:
        rows = rows[:limit]
    if not rows:
        raise ConfigError(f"The test set {test if isinstance(test, (str, Path)) else '(in memory)'} has no examples.")
    if labels is None and any(detect_format(r) == "classification" for r in rows):
        labels = sorted({str(r["label"]) for r in rows if "label" in r})
    prompts, references = [], []
    for row in rows:
        prompt, reference = reference_of(row, labels=labels)
        prompts.append(prompt)
        references.append(reference)
    source = str(test) if isinstance(test, (str, Path)) else f"{len(rows)} in-memory examples"
    return TestSet(prompts=prompts, references=references, examples=rows, source=source)


def predict(
    model: TrainedModel,
    prompts: Sequence[list[dict[str, Any]]],
    settings: GenerationSettings,
    *,
    cache: PredictionCache | None = None,
    progress: Progress | None = None,
) -> tuple[list[Generation], list[bool]]:
    """Generations for every prompt (and which came from the cache), generating only the missing ones.

    Missing prompts are sorted by length (less padding in a local batch) and sent in chunks of a few
    batches (local) or a few concurrency windows (managed); each chunk is cached when it returns.
    """
    identity = model_identity(model)
    keys = [prediction_key(identity, p, settings) for p in prompts]
    found = cache.get_many(set(keys)) if cache else {}
    missing = sorted({k: i for i, k in enumerate(keys) if k not in found}.values(), key=lambda i: len(str(prompts[i])))
    done = len(prompts) - len(missing)
    if progress:
        progress(done, len(prompts), model.label)
    # self-hosted models generate in local batches; managed ones in windows of concurrent requests
    self_hosted = model.provider_instance().hosting.is_self_hosted
    per_call = settings.batch_size * 4 if self_hosted else max(settings.concurrency * 8, 32)
    fresh: dict[str, Generation] = {}
    for start in range(0, len(missing), per_call):
        chunk = missing[start : start + per_call]
        generations = model.generate([prompts[i] for i in chunk], settings)
        new = {keys[i]: g for i, g in zip(chunk, generations, strict=True)}
        if cache:
            cache.put_many(new, model=model.label)
        fresh.update(new)
        done += len(chunk)
        if progress:
            progress(done, len(prompts), model.label)
    generations = [found.get(k) or fresh[k] for k in keys]
    return generations, [k in found for k in keys]


def _score(
    metrics: list[Metric], data: ScoringInput, *, resamples: int, confidence: float, seed: int, notes: list[str]
) -> tuple[dict[str, Interval], dict[str, dict[str, Any]], dict[str, tuple[Metric, np.ndarray]], list[dict[str, Any]]]:
    intervals: dict[str, Interval] = {}
    details: dict[str, dict[str, Any]] = {}
    statistics: dict[str, tuple[Metric, np.ndarray]] = {}
    per_example: list[dict[str, Any]] = [{} for _ in data.predictions]
    for metric in metrics:
        if getattr(metric, "supported", None) and not metric.supported(data.model):
            notes.append(f"{metric.name}: not available for {data.model.provider} models; skipped.")
            continue
        values = metric.stats(data)
        found = bootstrap.interval(metric, values, resamples=resamples, confidence=confidence, seed=seed)
        intervals.update(found)
        for output in found:
            statistics[output] = (metric, values)
        extra = metric.details(data, values)
        if extra:
            details[metric.name] = extra
        scores = metric.example_scores(values)
        if scores is not None:
            key = metric.name if len(metric.outputs) > 1 else metric.outputs[0]
            for row, value in zip(per_example, scores, strict=True):
                row[key] = None if np.isnan(value) else float(value)
    return intervals, details, statistics, per_example


def _evaluate_one(
    model: TrainedModel,
    test_set: TestSet,
    metrics: list[Metric],
    settings: GenerationSettings,
    *,
    cache: PredictionCache | None,
    progress: Progress | None,
    resamples: int,
    confidence: float,
    seed: int,
) -> EvalResult:
    from ftkit.deployment import serving

    started = time.perf_counter()
    deployments: list[Any] = []
    notes: list[str] = []
    # A fine-tune that answers only through a paid deployment is deployed for this block and deleted after
    # it, on success, error or Ctrl-C; with every answer cached, nothing is deployed at all.
    with serving(model, deployments=deployments, needed=not _all_cached(model, test_set, settings, cache)) as served:
        generations, from_cache = predict(served, test_set.prompts, settings, cache=cache, progress=progress)
        predictions = [g.text.strip() for g in generations]
        data = ScoringInput(
            predictions=predictions, references=test_set.references, prompts=test_set.prompts,
            examples=test_set.examples, generations=generations, model=served,
            predict=lambda m, prompts, s: predict(m, prompts, s, cache=cache)[0],
        )
        intervals, details, statistics, per_example = _score(
            metrics, data, resamples=resamples, confidence=confidence, seed=seed, notes=notes
        )
    examples = [
        ExampleResult(
            index=i, prompt=test_set.prompts[i], reference=test_set.references[i], prediction=predictions[i],
            scores=per_example[i], latency_s=g.latency_s, prompt_tokens=g.prompt_tokens,
            completion_tokens=g.completion_tokens, cached=from_cache[i],
        )
        for i, g in enumerate(generations)
    ]
    result = EvalResult(
        model=model.label, model_ref=model.model_dump(mode="json"), test=test_set.source, settings=settings,
        metrics=intervals, details=details, examples=examples, generated=from_cache.count(False),
        cached=from_cache.count(True), duration_s=time.perf_counter() - started, notes=notes,
        deployments=[{"id": d.id, "hours": d.hours, "price_per_hour": d.price_per_hour, "cost_usd": d.cost_usd}
                     for d in deployments],
        deployment_cost_usd=(sum(d.cost_usd for d in deployments)
                             if deployments and all(d.cost_usd is not None for d in deployments) else None),
    )
    for d in deployments:
        price = f"${d.price_per_hour:,.2f}/h" if d.price_per_hour is not None else "an unknown hourly price"
        result.notes.append(f"served through deployment {d.id} for {d.hours * 60:.1f} min at {price}; deleted")
    result._statistics = statistics
    return result


def _all_cached(model: TrainedModel, test_set: TestSet, settings: GenerationSettings,
                cache: PredictionCache | None) -> bool:
    """Whether every answer of ``model`` on ``test_set`` is in the cache (so no deployment is needed)."""
    if cache is None:
        return False
    identity = model_identity(model)
    keys = {prediction_key(identity, p, settings) for p in test_set.prompts}
    return len(cache.get_many(keys)) == len(keys)


def compare_pair(
    baseline: EvalResult, candidate: EvalResult, *, resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> BaseComparison:
    """Paired bootstrap differences (candidate - baseline) and flips on the first per-example metric."""
    if baseline.n != candidate.n:
        raise ConfigError("Both models must be evaluated on the same examples to be compared.")
    differences = {}
    done: set[int] = set()
    for name, (metric, cand_stats) in candidate.statistics.items():
        if name not in baseline.statistics or id(metric) in done:
            continue
        done.add(id(metric))
        base_stats = baseline.statistics[name][1]
        differences.update(
            bootstrap.paired_difference(
                metric, base_stats, cand_stats, resamples=resamples, confidence=confidence, seed=seed
            )
        )
    return BaseComparison(base=baseline, differences=differences, flips=example_flips(baseline, candidate))


def example_flips(baseline: EvalResult, candidate: EvalResult) -> Flips | None:
    """Fixed / broken / unchanged examples on the first per-example metric where higher is better."""
    for name, (metric, cand_stats) in candidate.statistics.items():
        scores = metric.example_scores(cand_stats)
        if scores is not None and name in baseline.statistics and metric.higher_is_better:
            return bootstrap.flips(metric.outputs[0], metric.example_scores(baseline.statistics[name][1]), scores)
    return None


def evaluate(
    model: TrainedModel | str,
    test: Any,
    *,
    metrics: Sequence[str | Metric | Callable[..., Any]] = DEFAULT_METRICS,
    base: TrainedModel | str | bool | None = None,
    regression: bool | str | Path = False,
    settings: GenerationSettings | None = None,
    labels: Sequence[Any] | None = None,
    limit: int | None = None,
    cache: bool | PredictionCache = True,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    progress: Progress | None = None,
    **generation: Any,
) -> EvalResult:
    """Evaluate ``model`` on ``test``; with ``base``, also the base on the same examples, and the difference.

    ``model`` is a :class:`TrainedModel`, a job id, a local directory (a model, or a LoRA adapter
    whose config names its base) or ``"openai:<model>"`` / ``"together:<model>"``. ``base=True`` uses
    the model's own base. ``regression=True`` adds the bundled general-instruction set (or pass a path).
    Decoding is greedy unless ``settings`` / keyword overrides (``max_new_tokens=16``) say otherwise.

    >>> result = evaluate("runs/ticket-router", "tickets_test.jsonl",
    ...                   metrics=["exact_match", "macro_f1"], base=True)          # doctest: +SKIP
    >>> result.comparison.differences["exact_match"].significant                     # doctest: +SKIP
    True
    """
    settings = (settings or GenerationSettings()).model_copy(update=generation)
    candidate = resolve_model(model)
    metric_objects = resolve_metrics(metrics)
    labels = labels if labels is not None else training_labels(candidate)
    test_set = load_test(test, labels=labels, limit=limit)
    store = cache if isinstance(cache, PredictionCache) else (PredictionCache() if cache else None)
    options = {"cache": store, "progress": progress, "resamples": resamples, "confidence": confidence, "seed": seed}
    try:
        result = _evaluate_one(candidate, test_set, metric_objects, settings, **options)
        base_model = _resolve_base(candidate, base)
        base_result = None
        if base_model is not None:
            base_result = _evaluate_one(base_model, test_set, metric_objects, settings, **options)
            result.comparison = compare_pair(base_result, result, resamples=resamples, confidence=confidence, seed=seed)
        if regression:
            path = regression_set() if regression is True else Path(regression)
            general = load_test(path)
            general_metrics = resolve_metrics(REGRESSION_METRICS)
            forgot = _evaluate_one(candidate, general, general_metrics, settings, **options)
            if base_model is not None:
                before = _evaluate_one(base_model, general, general_metrics, settings, **options)
                result.regression = compare_pair(before, forgot, resamples=resamples, confidence=confidence, seed=seed)
            else:
                result.regression = forgot
    finally:
        if store is not None and not isinstance(cache, PredictionCache):
            store.close()
    return result


def training_labels(model: TrainedModel) -> list[str] | None:
    """The labels a fine-tune was trained with (from its job's training file), so a classification
    prompt lists exactly what training listed even when the test set lacks a label."""
    train = (model.spec or {}).get("train")
    if not isinstance(train, str) or not Path(train).is_file():
        return None
    from ftkit.data import label_set

    return label_set(train) or None


def _resolve_base(candidate: TrainedModel, base: TrainedModel | str | bool | None) -> TrainedModel | None:
    if base is None or base is False:
        return None
    if base is True:
        if candidate.is_base:
            raise ConfigError(f"{candidate.label} is a base model already; pass base=<model> to compare with another.")
        model = TrainedModel(provider=candidate.provider, model_id=candidate.base_model or candidate.model_id)
        if candidate._provider is not None:
            model.bind(candidate._provider)
        return model
    return resolve_model(base)
