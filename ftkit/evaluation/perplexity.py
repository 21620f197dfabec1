"""Perplexity on the reference answers (local models): exp of the token-weighted mean negative log-likelihood.

Per example the statistics are ``[nll_sum, tokens]`` over the reference (assistant) tokens only, so
the corpus value weights each example by its length, exactly like ``trainer.evaluate()["eval_loss"]``,
and a bootstrap resample recomputes it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ftkit.evaluation.metrics import Metric, ScoringInput, _ratio

__all__ = ["Perplexity"]


@dataclass(frozen=True)
class Perplexity(Metric):
    """Needs a provider with ``loss(model, examples)`` giving ``(total_nll, tokens)`` per example (local has it).

    Other providers do not expose token log-probabilities of a given answer; for them the metric is
    skipped with a note in ``EvalResult.notes``.
    """

    name: str = "perplexity"
    higher_is_better: bool = False

    @property
    def outputs(self) -> tuple[str, ...]:
        return ("perplexity", "reference_loss")

    @staticmethod
    def supported(model: Any) -> bool:
        return callable(getattr(model.provider_instance(), "loss", None))

    def stats(self, data: ScoringInput) -> np.ndarray:
        model = data.model
        # the prompt exactly as evaluated, with the reference as the assistant turn to score
        examples = [
            {"messages": [*prompt, {"role": "assistant", "content": reference}]}
            for prompt, reference in zip(data.prompts, data.references, strict=True)
        ]
        losses = model.provider_instance().loss(model, examples)
        return np.asarray([(float(nll), float(tokens)) for nll, tokens in losses], dtype=float).reshape(-1, 2)

    def values(self, totals: np.ndarray) -> dict[str, np.ndarray]:
        loss = _ratio(totals[..., 0], totals[..., 1])
        return {"perplexity": np.exp(loss), "reference_loss": loss}

    def example_scores(self, stats: np.ndarray) -> np.ndarray:
        return _ratio(stats[:, 0], stats[:, 1])
