"""LLM-as-judge: any provider's model grades each answer against a rubric file.

The judge sees the conversation, the reference answer and the candidate's answer, and must end its
reply with ``Score: N`` on the rubric's scale. Scores are mapped to 0-1 so they sit next to the other
metrics; a reply without a readable score does not count (``details`` says how many). The judge's
replies go through the same prediction cache, so re-scoring a report costs nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ftkit.evaluation.metrics import Metric, ScoringInput, _ratio
from ftkit.types import GenerationSettings

__all__ = ["Judge", "parse_score"]

_INSTRUCTIONS = """You are grading an AI assistant's answer.

Rubric:
{rubric}

Read the conversation, the reference answer and the assistant's answer. Explain your judgement in at
most three sentences, then end with a final line of the form "Score: N", where N is a whole number from
{low} (worst) to {high} (best)."""

_PROMPT = """Conversation:
{conversation}

Reference answer:
{reference}

Assistant's answer:
{prediction}"""

_SCORE = re.compile(r"score\s*[:=]\s*\**\s*(-?\d+(?:\.\d+)?)", re.IGNORECASE)


def parse_score(reply: str, low: int, high: int) -> float | None:
    """The last ``Score: N`` in the reply, if it is on the scale.

    >>> parse_score("Correct queue.\\nScore: 5", 1, 5)
    5.0
    >>> parse_score("I cannot tell.", 1, 5) is None
    True
    """
    found = _SCORE.findall(reply)
    if not found:
        return None
    value = float(found[-1])
    return value if low <= value <= high else None


def _conversation(messages: list[dict[str, Any]]) -> str:
    return "\n".join(f"[{m.get('role', '?')}] {m.get('content') or ''}" for m in messages)


@dataclass(frozen=True, eq=False)
class Judge(Metric):
    """Score answers with a judge model and a rubric (text, or a path to a text/markdown file).

    >>> judge = Judge("rubric.md", model="openai:gpt-4o-mini-2024-07-18", scale=(1, 5))   # doctest: +SKIP
    >>> ftkit.evaluate(model, test, metrics=["exact_match", judge])                      # doctest: +SKIP
    """

    rubric: str | Path = ""
    model: Any = None
    scale: tuple[int, int] = (1, 5)
    settings: GenerationSettings = field(default_factory=lambda: GenerationSettings(max_new_tokens=256))
    name: str = "judge"

    def __post_init__(self) -> None:
        from ftkit.errors import ConfigError
        from ftkit.evaluation.models import resolve_model

        text = str(self.rubric)
        if isinstance(self.rubric, Path) or (len(text) < 512 and "\n" not in text and Path(text).is_file()):
            text = Path(text).read_text(encoding="utf-8")
        if not text.strip():
            raise ConfigError("Judge needs a rubric: its text, or the path of a rubric file.")
        if self.model is None:
            raise ConfigError("Judge needs a judge model, e.g. model='openai:gpt-4o-mini-2024-07-18'.")
        object.__setattr__(self, "rubric", text)
        object.__setattr__(self, "model", resolve_model(self.model))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Judge) and (other.rubric, other.model.label, other.scale) == (
            self.rubric, self.model.label, self.scale,
        )

    def __hash__(self) -> int:
        return hash((self.rubric, self.model.label, self.scale))

    def prompts(self, data: ScoringInput) -> list[list[dict[str, Any]]]:
        low, high = self.scale
        system = _INSTRUCTIONS.format(rubric=self.rubric.strip(), low=low, high=high)
        conversations = data.prompts or [[] for _ in data.predictions]
        return [
            [
                {"role": "system", "content": system},
                {"role": "user", "content": _PROMPT.format(
                    conversation=_conversation(prompt), reference=reference, prediction=prediction)},
            ]
            for prompt, reference, prediction in zip(conversations, data.references, data.predictions, strict=True)
        ]

    def stats(self, data: ScoringInput) -> np.ndarray:
        prompts = self.prompts(data)
        if data.predict is not None:
            replies = data.predict(self.model, prompts, self.settings)
        else:
            replies = self.model.generate(prompts, self.settings)
        low, high = self.scale
        rows = []
        for reply in replies:
            score = parse_score(reply.text, low, high)
            rows.append((0.0, 0.0) if score is None else ((score - low) / (high - low), 1.0))
        return np.asarray(rows, dtype=float).reshape(len(rows), 2)

    def values(self, totals: np.ndarray) -> dict[str, np.ndarray]:
        return {self.name: _ratio(totals[..., 0], totals[..., 1])}

    def example_scores(self, stats: np.ndarray) -> np.ndarray:
        return np.where(stats[:, 1] > 0, stats[:, 0], np.nan)

    def details(self, data: ScoringInput, stats: np.ndarray) -> dict[str, Any]:
        return {
            "judge": self.model.label,
            "scale": list(self.scale),
            "unscored": int((stats[:, 1] == 0).sum()),
            "note": "scores are mapped to 0-1: (score - low) / (high - low)",
        }
