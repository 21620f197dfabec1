"""Metrics: small pure scoring functions behind one interface that makes every metric bootstrappable.

Each metric turns the evaluated examples into an ``(n, k)`` array of per-example *sufficient
statistics*; the metric's value is a function of their column sums. A mean metric keeps
``[score, 1]`` per example, macro F1 keeps per-class true/false positive counts, perplexity keeps
``[nll, tokens]``. Resampling examples is then a weighted sum, so the paired bootstrap in
:mod:`ftkit.evaluation.stats` is one matrix product for every metric, corpus-level ones included.

>>> exact_match("Billing", " Billing ")
1.0
>>> round(rouge_l("the cat sat on the mat", "the cat is on the mat"), 3)
0.833
"""

from __future__ import annotations

import inspect
import json
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ftkit.types import Generation

__all__ = [
    "Contains",
    "ExactMatch",
    "ExampleMetric",
    "FunctionMetric",
    "JsonValid",
    "Metric",
    "Normalization",
    "ScoringInput",
    "chrf",
    "exact_match",
    "normalize",
    "rouge_l",
]


# -- normalisation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Normalization:
    """How answers are cleaned before they are compared. The default only trims and collapses spaces.

    ``lowercase``, ``punctuation`` (drop ASCII and Unicode punctuation) and ``articles`` (drop
    a/an/the) follow the SQuAD answer normalisation when all three are on.
    """

    lowercase: bool = False
    punctuation: bool = False
    articles: bool = False
    whitespace: bool = True

    @classmethod
    def parse(cls, spec: str | Sequence[str] | None) -> Normalization:
        """``"lower,punct,articles"`` (the CLI's ``--normalize``) or ``"squad"`` for all three."""
        if spec is None:
            return cls()
        parts = [p.strip().lower() for p in (spec.split(",") if isinstance(spec, str) else spec) if p.strip()]
        if "squad" in parts:
            return cls(lowercase=True, punctuation=True, articles=True)
        known = {"lower": "lowercase", "lowercase": "lowercase", "punct": "punctuation",
                 "punctuation": "punctuation", "articles": "articles"}
        unknown = [p for p in parts if p not in known]
        if unknown:
            from ftkit.errors import ConfigError

            raise ConfigError(f"Unknown normalisation {', '.join(unknown)}; use lower, punct, articles or squad.")
        return cls(**{known[p]: True for p in parts})


_ARTICLES = re.compile(r"\b(a|an|the)\b", re.IGNORECASE)


def normalize(text: str, how: Normalization = Normalization()) -> str:
    if how.lowercase:
        text = text.lower()
    if how.punctuation:
        text = "".join(" " if unicodedata.category(c).startswith("P") or c in string.punctuation else c for c in text)
    if how.articles:
        text = _ARTICLES.sub(" ", text)
    if how.whitespace:
        text = " ".join(text.split())
    return text


# -- the pure scoring functions --------------------------------------------------------------------


def exact_match(prediction: str, reference: str, how: Normalization = Normalization()) -> float:
    return float(normalize(prediction, how) == normalize(reference, how))


def _rouge_tokens(text: str) -> list[str]:
    # rouge-score's default tokenizer: lowercase, anything but [a-z0-9] separates tokens
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).split()


def _lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    if not a or not b:
        return 0
    previous = [0] * (len(b) + 1)
    for token in a:
        current = [0]
        for j, other in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if token == other else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F1: longest common subsequence of tokens, as ``rouge-score`` computes it (no stemming)."""
    pred, ref = _rouge_tokens(prediction), _rouge_tokens(reference)
    lcs = _lcs_length(pred, ref)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(pred), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


def chrf(prediction: str, reference: str, *, char_order: int = 6, beta: float = 2.0) -> float:
    """Sentence chrF on a 0-1 scale: sacrebleu's default ``CHRF()`` score divided by 100.

    Whitespace is removed, precision and recall are averaged over the n-gram orders both strings
    have (sacrebleu's "effective order"), then combined as an F-beta score.
    """
    hyp, ref = "".join(prediction.split()), "".join(reference.split())
    precision_sum = recall_sum = 0.0
    effective_order = 0
    for n in range(1, char_order + 1):
        hyp_ngrams = Counter(hyp[i : i + n] for i in range(len(hyp) - n + 1))
        ref_ngrams = Counter(ref[i : i + n] for i in range(len(ref) - n + 1))
        if not hyp_ngrams or not ref_ngrams:
            continue
        matches = sum((hyp_ngrams & ref_ngrams).values())
        precision_sum += matches / sum(hyp_ngrams.values())
        recall_sum += matches / sum(ref_ngrams.values())
        effective_order += 1
    if effective_order == 0:
        return 0.0
    precision, recall = precision_sum / effective_order, recall_sum / effective_order
    if precision + recall == 0:
        return 0.0
    b2 = beta**2
    return (1 + b2) * precision * recall / (b2 * precision + recall)


def parse_json(text: str, *, allow_code_fence: bool = False) -> tuple[bool, Any]:
    text = text.strip()
    if allow_code_fence:
        fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", text, flags=re.DOTALL)
        if fenced:
            text = fenced.group(1)
    try:
        return True, json.loads(text)
    except ValueError:
        return False, None


# -- the metric interface --------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoringInput:
    """Everything a metric may look at, aligned by example index."""

    predictions: Sequence[str]
    references: Sequence[str]
    prompts: Sequence[list[dict[str, Any]]] = ()
    examples: Sequence[dict[str, Any]] = ()
    generations: Sequence[Generation] = ()
    #: the evaluated model (a TrainedModel), for metrics that need it (perplexity)
    model: Any = None
    #: a callable ``(model, prompts, settings) -> list[Generation]`` that goes through the cache (judge)
    predict: Any = None


class Metric:
    """A metric: per-example statistics, and the values they sum up to.

    Subclasses set ``name`` and implement :meth:`stats` and :meth:`values`. Metrics are frozen
    dataclasses, so two equal metrics in one call are computed once.
    """

    name: str = "metric"
    #: for reports and flips: is a larger value better?
    higher_is_better: bool = True

    @property
    def outputs(self) -> tuple[str, ...]:
        """Names of the values this metric produces (most produce one, named like the metric)."""
        return (self.name,)

    def stats(self, data: ScoringInput) -> np.ndarray:
        """Per-example sufficient statistics, shape ``(n, k)``."""
        raise NotImplementedError

    def values(self, totals: np.ndarray) -> dict[str, np.ndarray]:
        """Metric values from column sums; ``totals`` has shape ``(..., k)`` (a batch of resamples)."""
        raise NotImplementedError

    def example_scores(self, stats: np.ndarray) -> np.ndarray | None:
        """A score per example (NaN where it does not apply), or None for corpus-only metrics."""
        return None

    def details(self, data: ScoringInput, stats: np.ndarray) -> dict[str, Any]:
        """Extra, JSON-ready facts for the report (a confusion matrix, skipped examples...)."""
        return {}


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan)


class ExampleMetric(Metric):
    """A metric that is the mean of a per-example score; ``score`` returns None when it does not apply."""

    def score(self, prediction: str, reference: str, example: dict[str, Any]) -> float | None:
        raise NotImplementedError

    def stats(self, data: ScoringInput) -> np.ndarray:
        examples = data.examples or [{}] * len(data.predictions)
        rows = []
        for prediction, reference, example in zip(data.predictions, data.references, examples, strict=True):
            value = self.score(prediction, reference, example)
            rows.append((0.0, 0.0) if value is None else (float(value), 1.0))
        return np.asarray(rows, dtype=float).reshape(len(rows), 2)

    def values(self, totals: np.ndarray) -> dict[str, np.ndarray]:
        return {self.name: _ratio(totals[..., 0], totals[..., 1])}

    def example_scores(self, stats: np.ndarray) -> np.ndarray:
        return np.where(stats[:, 1] > 0, stats[:, 0], np.nan)


@dataclass(frozen=True)
class ExactMatch(ExampleMetric):
    """1 when the normalised prediction equals the normalised reference.

    >>> ExactMatch(Normalization(lowercase=True)).score("BILLING", "billing", {})
    1.0
    """

    normalization: Normalization = Normalization()
    name: str = "exact_match"

    def score(self, prediction: str, reference: str, example: dict[str, Any]) -> float:
        return exact_match(prediction, reference, self.normalization)


@dataclass(frozen=True)
class Contains(ExampleMetric):
    """1 when the normalised reference appears inside the normalised prediction (lenient for chatty models)."""

    normalization: Normalization = Normalization(lowercase=True, punctuation=True)
    name: str = "contains"

    def score(self, prediction: str, reference: str, example: dict[str, Any]) -> float:
        return float(normalize(reference, self.normalization) in normalize(prediction, self.normalization))


@dataclass(frozen=True)
class RougeL(ExampleMetric):
    name: str = "rouge_l"

    def score(self, prediction: str, reference: str, example: dict[str, Any]) -> float:
        return rouge_l(prediction, reference)


@dataclass(frozen=True)
class ChrF(ExampleMetric):
    char_order: int = 6
    beta: float = 2.0
    name: str = "chrf"

    def score(self, prediction: str, reference: str, example: dict[str, Any]) -> float:
        return chrf(prediction, reference, char_order=self.char_order, beta=self.beta)


@dataclass(frozen=True)
class JsonValid(ExampleMetric):
    """Format compliance: 1 when the prediction parses as JSON."""

    allow_code_fence: bool = False
    name: str = "json_valid"

    def score(self, prediction: str, reference: str, example: dict[str, Any]) -> float:
        return float(parse_json(prediction, allow_code_fence=self.allow_code_fence)[0])


@dataclass(frozen=True)
class GenerationStat(ExampleMetric):
    """Mean of a per-example generation fact: ``latency_s``, ``completion_tokens`` or ``prompt_tokens``."""

    attribute: str = "latency_s"
    name: str = "latency_s"
    higher_is_better: bool = False

    def stats(self, data: ScoringInput) -> np.ndarray:
        rows = [
            (0.0, 0.0) if getattr(g, self.attribute, None) is None else (float(getattr(g, self.attribute)), 1.0)
            for g in data.generations
        ]
        return np.asarray(rows, dtype=float).reshape(len(rows), 2)


@dataclass(frozen=True, eq=False)
class FunctionMetric(ExampleMetric):
    """A plain Python callable as a metric: ``fn(prediction, reference)`` or ``fn(prediction, reference, example)``.

    Return a number or bool per example (None to skip the example).

    >>> def starts_with_queue(prediction, reference):
    ...     return prediction.split()[0] == reference
    >>> FunctionMetric(starts_with_queue).name
    'starts_with_queue'
    """

    fn: Callable[..., Any] = field(default=lambda p, r: 0.0)
    name: str = ""
    higher_is_better: bool = True
    _takes_example: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", getattr(self.fn, "__name__", "custom").strip("<>") or "custom")
        object.__setattr__(self, "_takes_example", len(inspect.signature(self.fn).parameters) >= 3)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FunctionMetric) and other.fn is self.fn and other.name == self.name

    def __hash__(self) -> int:
        return hash((id(self.fn), self.name))

    def score(self, prediction: str, reference: str, example: dict[str, Any]) -> float | None:
        value = self.fn(prediction, reference, example) if self._takes_example else self.fn(prediction, reference)
        return None if value is None else float(value)
