"""Bootstrap confidence intervals, paired differences and per-example flips.

A resample of ``n`` examples is a row of counts (how often each example was drawn); because every
metric is a function of summed per-example statistics, ``counts @ stats`` evaluates a metric on
all resamples at once. The paired bootstrap draws one set of rows and applies it to both models,
so the interval of a difference keeps the pairing (the same examples, the same draws).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ftkit.evaluation.metrics import Metric

__all__ = ["Difference", "Flips", "Interval", "bootstrap_counts", "flips", "interval", "paired_difference"]

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
#: rows of resample counts built at a time (bounds memory to ~chunk x n floats)
_CHUNK = 250


class Interval(BaseModel):
    """A metric value with its percentile bootstrap interval."""

    model_config = ConfigDict(extra="forbid")

    value: float | None
    low: float | None = None
    high: float | None = None
    confidence: float = 0.95
    n: int = Field(description="examples the metric applies to")

    def __str__(self) -> str:
        if self.value is None:
            return "n/a"
        if self.low is None or self.high is None:
            return f"{self.value:.3f}"
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


class Difference(BaseModel):
    """Candidate minus baseline for one metric, with a paired bootstrap interval."""

    model_config = ConfigDict(extra="forbid")

    metric: str
    baseline: float | None
    candidate: float | None
    diff: float | None
    low: float | None
    high: float | None
    confidence: float = 0.95
    #: share of resamples whose difference has the opposite sign to the observed one, doubled
    p_value: float | None = None
    higher_is_better: bool = True

    @property
    def significant(self) -> bool:
        """True when the interval excludes zero."""
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)

    @property
    def verdict(self) -> str:
        if not self.significant or self.diff is None:
            return "no clear change"
        better = (self.diff > 0) == self.higher_is_better
        return "better" if better else "worse"


class Flips(BaseModel):
    """Which examples changed between baseline and candidate on one per-example metric."""

    model_config = ConfigDict(extra="forbid")

    metric: str
    fixed: list[int] = Field(default_factory=list, description="indices the candidate scores higher on")
    broken: list[int] = Field(default_factory=list, description="indices the candidate scores lower on")
    unchanged: int = 0


def bootstrap_counts(n: int, resamples: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Yield blocks of resample count rows, shape ``(block, n)``, drawing with replacement."""
    done = 0
    while done < resamples:
        block = min(_CHUNK, resamples - done)
        draws = rng.integers(0, n, size=(block, n))
        offsets = (np.arange(block) * n)[:, None]
        yield np.bincount((draws + offsets).ravel(), minlength=block * n).reshape(block, n).astype(float)
        done += block


def _percentiles(samples: np.ndarray, confidence: float) -> tuple[float | None, float | None]:
    samples = samples[~np.isnan(samples)]
    if samples.size == 0:
        return None, None
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def _as_float(value: np.ndarray | float) -> float | None:
    value = float(value)
    return None if np.isnan(value) else value


def interval(
    metric: Metric,
    stats: np.ndarray,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    seed: int = DEFAULT_SEED,
) -> dict[str, Interval]:
    """Each output of ``metric`` with its percentile bootstrap interval (seeded, so reproducible)."""
    n = stats.shape[0]
    point = metric.values(stats.sum(axis=0))
    applicable = int((stats != 0).any(axis=1).sum()) if stats.size else 0
    if n == 0:
        return {name: Interval(value=None, n=0, confidence=confidence) for name in point}
    rng = np.random.default_rng(seed)
    samples: dict[str, list[np.ndarray]] = {name: [] for name in point}
    for counts in bootstrap_counts(n, resamples, rng):
        for name, values in metric.values(counts @ stats).items():
            samples[name].append(values)
    result = {}
    for name, value in point.items():
        low, high = _percentiles(np.concatenate(samples[name]), confidence)
        result[name] = Interval(value=_as_float(value), low=low, high=high, confidence=confidence, n=applicable)
    return result


def paired_difference(
    metric: Metric,
    baseline: np.ndarray,
    candidate: np.ndarray,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    seed: int = DEFAULT_SEED,
) -> dict[str, Difference]:
    """Candidate minus baseline for each output of ``metric``, resampling the same examples for both.

    ``baseline`` and ``candidate`` are the two models' statistics on the same examples, row for row.
    """
    if baseline.shape[0] != candidate.shape[0]:
        raise ValueError("paired statistics need the same examples in the same order")
    n = baseline.shape[0]
    base_point, cand_point = metric.values(baseline.sum(axis=0)), metric.values(candidate.sum(axis=0))
    rng = np.random.default_rng(seed)
    samples: dict[str, list[np.ndarray]] = {name: [] for name in base_point}
    if n:
        for counts in bootstrap_counts(n, resamples, rng):
            base_values, cand_values = metric.values(counts @ baseline), metric.values(counts @ candidate)
            for name in samples:
                samples[name].append(cand_values[name] - base_values[name])
    result = {}
    for name in base_point:
        b, c = _as_float(base_point[name]), _as_float(cand_point[name])
        diff = None if b is None or c is None else c - b
        drawn = np.concatenate(samples[name]) if samples[name] else np.array([])
        drawn = drawn[~np.isnan(drawn)]
        low, high = _percentiles(drawn, confidence) if drawn.size else (None, None)
        p_value = None
        if diff is not None and drawn.size:
            opposite = (drawn <= 0).mean() if diff > 0 else (drawn >= 0).mean() if diff < 0 else 1.0
            p_value = float(min(1.0, 2 * opposite))
        result[name] = Difference(
            metric=name, baseline=b, candidate=c, diff=diff, low=low, high=high, confidence=confidence,
            p_value=p_value, higher_is_better=metric.higher_is_better,
        )
    return result


def flips(metric_name: str, baseline_scores: np.ndarray, candidate_scores: np.ndarray) -> Flips:
    """Examples the candidate fixed (scores higher) or broke (scores lower); NaN scores are skipped."""
    both = ~(np.isnan(baseline_scores) | np.isnan(candidate_scores))
    delta = np.where(both, candidate_scores - baseline_scores, 0.0)
    return Flips(
        metric=metric_name,
        fixed=np.flatnonzero(both & (delta > 1e-12)).tolist(),
        broken=np.flatnonzero(both & (delta < -1e-12)).tolist(),
        unchanged=int((both & (np.abs(delta) <= 1e-12)).sum()),
    )
