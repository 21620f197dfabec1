"""Label metrics: accuracy, macro precision / recall / F1 and the confusion matrix.

The label set is fixed before scoring (given, or the distinct references), so a prediction outside
it is a miss for the true class, not a new class: a chatty model is not rewarded with extra
near-empty classes in the macro average (sklearn's ``labels=`` behaviour).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ftkit.evaluation.metrics import Metric, Normalization, ScoringInput, _ratio, normalize

__all__ = ["OTHER_LABEL", "Classification"]

#: the confusion-matrix column for predictions outside the label set
OTHER_LABEL = "(other)"


@dataclass(frozen=True)
class Classification(Metric):
    """Accuracy and macro-averaged precision, recall and F1 over a fixed label set.

    Per example the statistics are one-hot true-positive, false-positive and false-negative counts
    per class, so a bootstrap resample recomputes the macro average exactly. Classes that have
    neither a true nor a predicted example in a resample are left out of its average.

    >>> m = Classification()
    >>> data = ScoringInput(predictions=["a", "b", "b"], references=["a", "a", "b"])
    >>> {k: round(float(v), 3) for k, v in m.values(m.stats(data).sum(axis=0)).items()}
    {'accuracy': 0.667, 'macro_precision': 0.75, 'macro_recall': 0.75, 'macro_f1': 0.667}
    """

    labels: tuple[str, ...] | None = None
    normalization: Normalization = Normalization(lowercase=True)  # noqa: RUF009 - frozen, so sharing is safe
    name: str = "classification"

    @property
    def outputs(self) -> tuple[str, ...]:
        return ("accuracy", "macro_precision", "macro_recall", "macro_f1")

    def label_set(self, references: Sequence[str]) -> list[str]:
        if self.labels is not None:
            return [normalize(label, self.normalization) for label in self.labels]
        return sorted({normalize(r, self.normalization) for r in references})

    def _indices(self, data: ScoringInput) -> tuple[list[str], np.ndarray, np.ndarray]:
        labels = self.label_set(data.references)
        index = {label: i for i, label in enumerate(labels)}
        other = len(labels)
        gold = np.array([index.get(normalize(r, self.normalization), other) for r in data.references], dtype=int)
        pred = np.array([index.get(normalize(p, self.normalization), other) for p in data.predictions], dtype=int)
        return labels, gold, pred

    def stats(self, data: ScoringInput) -> np.ndarray:
        labels, gold, pred = self._indices(data)
        n, c = len(gold), len(labels)
        eye = np.eye(c + 1)[:, :c]  # row `other` is all zeros: it is no class
        gold_hot, pred_hot = eye[gold], eye[pred]
        tp = gold_hot * pred_hot
        correct = (gold == pred) & (gold < c)
        # columns: correct, count, then tp / fp / fn per class
        return np.hstack(
            [correct[:, None].astype(float), np.ones((n, 1)), tp, pred_hot - tp, gold_hot - tp]
        ).reshape(n, 2 + 3 * c)

    def values(self, totals: np.ndarray) -> dict[str, np.ndarray]:
        c = (totals.shape[-1] - 2) // 3
        tp, fp, fn = totals[..., 2 : 2 + c], totals[..., 2 + c : 2 + 2 * c], totals[..., 2 + 2 * c :]
        precision = np.nan_to_num(_ratio(tp, tp + fp))
        recall = np.nan_to_num(_ratio(tp, tp + fn))
        f1 = np.nan_to_num(_ratio(2 * precision * recall, precision + recall))
        present = (tp + fp + fn) > 0
        count = present.sum(axis=-1)

        def macro(per_class: np.ndarray) -> np.ndarray:
            return _ratio((per_class * present).sum(axis=-1), count)

        return {
            "accuracy": _ratio(totals[..., 0], totals[..., 1]),
            "macro_precision": macro(precision),
            "macro_recall": macro(recall),
            "macro_f1": macro(f1),
        }

    def example_scores(self, stats: np.ndarray) -> np.ndarray:
        return stats[:, 0]

    def details(self, data: ScoringInput, stats: np.ndarray) -> dict[str, Any]:
        labels, gold, pred = self._indices(data)
        c = len(labels)
        matrix = np.zeros((c, c + 1), dtype=int)
        np.add.at(matrix, (gold[gold < c], pred[gold < c]), 1)
        totals = stats.sum(axis=0)
        tp, fp, fn = totals[2 : 2 + c], totals[2 + c : 2 + 2 * c], totals[2 + 2 * c :]
        per_class = {}
        for i, label in enumerate(labels):
            precision = tp[i] / (tp[i] + fp[i]) if tp[i] + fp[i] else 0.0
            recall = tp[i] / (tp[i] + fn[i]) if tp[i] + fn[i] else 0.0
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
            per_class[label] = {
                "precision": float(precision), "recall": float(recall), "f1": float(f1), "support": int(tp[i] + fn[i])
            }
        return {
            "labels": labels,
            "confusion_matrix": {"rows": "true label", "columns": [*labels, OTHER_LABEL], "counts": matrix.tolist()},
            "per_class": per_class,
            "unknown_predictions": int((pred == c).sum()),
        }
