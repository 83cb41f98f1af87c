"""Agreement between two scores of the same objects. Pure numpy/scipy, no Django.

Numeric: matched count, Pearson and Spearman correlation (scipy.stats), mean absolute error and root
mean squared error. Categorical and boolean: Cohen's kappa, accuracy, per-label precision, recall and
F1 with their macro average, and the confusion matrix. The first score is the reference (rows of the
confusion matrix, "truth" for precision/recall), the second the one being judged against it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

# Below this many matched pairs a correlation or a kappa says nothing worth showing.
MIN_PAIRS = 2


def _finite(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def numeric_agreement(reference: Sequence[float], other: Sequence[float]) -> dict[str, Any]:
    a, b = np.asarray(reference, dtype=float), np.asarray(other, dtype=float)
    n = len(a)
    result: dict[str, Any] = {"n": n, "pearson": None, "spearman": None, "mae": None, "rmse": None}
    if n == 0:
        return result
    difference = b - a
    result["mae"] = float(np.mean(np.abs(difference)))
    result["rmse"] = float(np.sqrt(np.mean(difference**2)))
    # A constant side has no correlation (scipy warns and answers nan): say "none" instead.
    if n >= MIN_PAIRS and np.ptp(a) > 0 and np.ptp(b) > 0:
        result["pearson"] = _finite(stats.pearsonr(a, b).statistic)
        result["spearman"] = _finite(stats.spearmanr(a, b).statistic)
    return result


def confusion(reference: Sequence[Any], other: Sequence[Any], labels: Sequence[Any] | None = None):
    """`(labels, matrix)`: matrix[i][j] counts objects the reference called labels[i] and the other
    labels[j]. Labels are sorted as strings unless given."""
    if labels is None:
        labels = sorted({*reference, *other}, key=str)
    index = {label: position for position, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=int)
    for truth, guess in zip(reference, other, strict=True):
        matrix[index[truth], index[guess]] += 1
    return list(labels), matrix


def cohens_kappa(matrix: np.ndarray) -> float | None:
    """Unweighted Cohen's kappa of a confusion matrix: (observed - chance agreement) / (1 - chance)."""
    total = matrix.sum()
    if total == 0:
        return None
    observed = np.trace(matrix) / total
    chance = float(np.sum(matrix.sum(axis=0) * matrix.sum(axis=1))) / total**2
    if chance == 1:
        # Both sides gave one and the same label throughout: agreement is perfect but not beyond chance.
        return 1.0 if observed == 1 else None
    return float((observed - chance) / (1 - chance))


def categorical_agreement(
    reference: Sequence[Any], other: Sequence[Any], labels: Sequence[Any] | None = None
) -> dict[str, Any]:
    labels, matrix = confusion(reference, other, labels)
    n = int(matrix.sum())
    per_label = []
    for position, label in enumerate(labels):
        true_positive = int(matrix[position, position])
        predicted = int(matrix[:, position].sum())
        actual = int(matrix[position, :].sum())
        precision = true_positive / predicted if predicted else None
        recall = true_positive / actual if actual else None
        f1 = (
            2 * precision * recall / (precision + recall)
            if precision is not None and recall is not None and precision + recall > 0
            else (0.0 if precision is not None and recall is not None else None)
        )
        per_label.append(
            {"label": label, "support": actual, "precision": precision, "recall": recall, "f1": f1}
        )
    defined = [row["f1"] for row in per_label if row["f1"] is not None]
    return {
        "n": n,
        "kappa": cohens_kappa(matrix) if n >= MIN_PAIRS else None,
        "accuracy": float(np.trace(matrix) / n) if n else None,
        "macroF1": float(np.mean(defined)) if defined else None,
        "perLabel": per_label,
        "labels": labels,
        "confusionMatrix": matrix.tolist(),
    }
